/* SPDX-License-Identifier: Apache-2.0 */
/* Escaping of text that a process (or a file) controls, before it reaches a terminal or a
 * JSON document: process names, mapping paths, thread names, registry strings, messages
 * that quote them. The one rule, used by every output of the command line:
 *   - valid UTF-8 is kept, except control characters (C0, DEL, C1) and the
 *     bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069), which could
 *     move the cursor, rewrite what is on the screen or reorder what is read;
 *   - in human output those and every byte that is not valid UTF-8 become \xNN (each
 *     byte of the sequence), and a backslash becomes \\ so the text stays unambiguous;
 *   - in JSON (json.c) control characters become \u00NN escapes as RFC 8259 says, and
 *     invalid bytes the same \xNN text as in human output. */
#ifndef SUTURE_CLI_ESCAPE_H
#define SUTURE_CLI_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 sequence at s (1-4) with its code point in *cp, or 0 when the bytes
 * at s are not a valid, shortest-form sequence of a scalar value. */
size_t cli_utf8_next(const unsigned char *s, uint32_t *cp);
/* Must code point cp be escaped? (controls and bidirectional formatting) */
int cli_unsafe_cp(uint32_t cp);
/* s escaped for a terminal into out (cap bytes, always NUL-terminated; an escape is never
 * cut in half). Returns out. NULL s gives "". */
const char *cli_esc(const char *s, char *out, size_t cap);

/* Room for any escaped string of up to N input bytes. */
#define CLI_ESC_SIZE(n) (4 * (n) + 1)

#endif

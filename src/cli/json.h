/* SPDX-License-Identifier: Apache-2.0 */
/* A minimal streaming JSON writer for --json output: one document on stdout, strings
 * escaped per RFC 8259, commas placed by the writer so callers cannot get them wrong. */
#ifndef SUTURE_CLI_JSON_H
#define SUTURE_CLI_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int depth;
	bool need_comma[64];
};

void json_init(struct json *j, FILE *f);
void json_obj_begin(struct json *j, const char *key); /* key NULL inside arrays / at top */
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_str(struct json *j, const char *key, const char *v); /* v NULL -> null */
void json_int(struct json *j, const char *key, long long v);
void json_uint(struct json *j, const char *key, unsigned long long v);
void json_bool(struct json *j, const char *key, bool v);
void json_hex(struct json *j, const char *key, uint64_t v); /* "0x..." string */
void json_end(struct json *j); /* final newline */

#endif

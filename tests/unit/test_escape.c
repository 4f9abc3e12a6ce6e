/* SPDX-License-Identifier: Apache-2.0 */
/* The one escaping rule of the command line (cli/escape.h), for the terminal and JSON. */
#include "fixtures.h"

#include "cli/escape.h"
#include "cli/json.h"

static void test_terminal(void **state)
{
	char out[256];
	assert_string_equal(cli_esc("plain text", out, sizeof out), "plain text");
	assert_string_equal(cli_esc("\033[2J\a\n\t", out, sizeof out), "\\x1b[2J\\x07\\x0a\\x09");
	assert_string_equal(cli_esc("a\\b", out, sizeof out), "a\\\\b");
	/* valid UTF-8 stays; a lone C1 byte, a C1 code point, bad sequences do not */
	assert_string_equal(cli_esc("caf\xc3\xa9", out, sizeof out), "caf\xc3\xa9");
	assert_string_equal(cli_esc("\x9b" "1m", out, sizeof out), "\\x9b1m");
	assert_string_equal(cli_esc("\xc2\x9b", out, sizeof out), "\\xc2\\x9b");
	assert_string_equal(cli_esc("\xc0\xaf\xed\xa0\x80\xff", out, sizeof out),
			    "\\xc0\\xaf\\xed\\xa0\\x80\\xff");
	/* bidirectional overrides (U+202E) would reorder what the reader sees */
	assert_string_equal(cli_esc("x\xe2\x80\xaey", out, sizeof out), "x\\xe2\\x80\\xaey");
	assert_string_equal(cli_esc(NULL, out, sizeof out), "");
	/* truncation never cuts an escape */
	char small[6];
	assert_string_equal(cli_esc("ab\033cd", small, sizeof small), "ab");
}

static void test_json(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct json j;
	json_init(&j, f);
	json_obj_begin(&j, NULL);
	json_str(&j, "s", "\033]0;x\a\"\\\n\xc2\x9b\xff\xc3\xa9");
	json_obj_end(&j);
	fclose(f);
	assert_string_equal(buf, "{\"s\":\"\\u001b]0;x\\u0007\\\"\\\\\\n\\u009b\\\\xff\xc3\xa9\"}");
	for (size_t i = 0; i < len; i++)
		assert_true((unsigned char)buf[i] >= 0x20);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_terminal),
		cmocka_unit_test(test_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

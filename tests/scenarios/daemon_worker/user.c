/* SPDX-License-Identifier: Apache-2.0 */
/* libuser.so depends on libfix.so: its constructor, run after libfix.so's and before the
 * program's main, calls fix_value() (a library calling the patched function at start). */
int fix_value(void);
int user_ctor_value;

__attribute__((constructor)) static void user_ctor(void)
{
	user_ctor_value = fix_value();
}

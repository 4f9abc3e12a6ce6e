/* SPDX-License-Identifier: Apache-2.0 */
/* A constructor of libfix.so itself: what fix_value() returned when the dynamic linker ran
 * the library's initialisers (before any code of the program that loads it). */
int fix_value(void);
int fix_ctor_value;

__attribute__((constructor)) static void fix_ctor(void)
{
	fix_ctor_value = fix_value();
}

/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FOO_H
#define FOO_H
/* Price of n units, in cents. */
int foo_price(int n);
#endif

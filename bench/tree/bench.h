/* SPDX-License-Identifier: Apache-2.0 */
#ifndef BENCH_H
#define BENCH_H
/* The function every benchmark patches: small and cheap, so that the patched-call
 * overhead is not hidden by the cost of the function itself. */
int bench_value(int x);
#endif

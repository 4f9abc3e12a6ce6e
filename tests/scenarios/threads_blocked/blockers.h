/* SPDX-License-Identifier: Apache-2.0 */
#ifndef BLOCKERS_H
#define BLOCKERS_H
/* Starts two threads of each kind: blocked in read() on a pipe nobody writes, in accept()
 * on a loopback socket nobody connects to, in 500 ms nanosleep()s, in pthread_cond_wait()
 * on a condition nobody signals. A thread prints a line only when its call misbehaves:
 * "EINTR <call>" when the call fails with EINTR, "SHORT nanosleep ..." when a sleep ends
 * early, "UNEXPECTED <call> ..." when a call that should block returns. Exits on setup
 * failure. */
void start_blockers(void);
#endif

#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# PENDING (not run by make check): hostile_blocked with the epoll_wait threads checked too.
# Today every apply and every revert makes a thread blocked in epoll_wait(fd, ev, 1, -1)
# return -1/EINTR ("BAD epoll_wait failed with errno 4"), and one in epoll_wait with a
# 200 ms timeout return EINTR or, after suture's stop, time out early ("BAD epoll_timeout
# lasted 21 ms of 200"): about 100 complaints each over 50 rounds. epoll_wait returns
# -EINTR (not -ERESTART*) when its sleep is broken by a ptrace stop, so the kernel does not
# restart it; suture must restart it itself when the thread was interrupted inside
# epoll_wait (rewind the syscall instruction, restore the number; for a finite timeout,
# the remaining time, never less). Once fixed, drop the EXCLUDE default in
# tests/integration/hostile_blocked.sh and delete this file.
EXCLUDE= exec bash "$(dirname "$0")/../integration/hostile_blocked.sh"

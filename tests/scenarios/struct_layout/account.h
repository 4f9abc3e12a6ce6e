/* SPDX-License-Identifier: Apache-2.0 */
struct account {
	long balance;
	int limit;
};
struct account *account_new(int limit);
int account_take(struct account *a, long amount);

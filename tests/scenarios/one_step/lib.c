/* SPDX-License-Identifier: Apache-2.0 */
/* Two switch statements compiled to jump tables; the fix changes one case of each. */
const char *name(int x)
{
	switch (x % 8) {
	case 0: return "zero";
	case 1: return "one";
	case 2: return "two";
	case 3: return "three";
	case 4: return "four";
	case 5: return "five";
	case 6: return "six";
	default: return "seven";
	}
}

int compute(int x)
{
	switch (x % 7) {
	case 0: return x * 3;
	case 1: return x + 11;
	case 2: return x ^ 5;
	case 3: return x - 2;
	case 4: return x * x;
	case 5: return x / 2;
	default: return -x;
	}
}

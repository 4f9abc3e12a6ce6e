/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"
int cmd_scan(int argc, char **argv) { (void)argc; (void)argv; return 2; }

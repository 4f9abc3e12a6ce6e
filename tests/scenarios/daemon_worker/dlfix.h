/* SPDX-License-Identifier: Apache-2.0 */
/* dlopen_fix: the one way dlworker and dlonce load libfix.so. */
#ifndef DLFIX_H
#define DLFIX_H

/* Loads libfix.so from this program's own folder (as worker's $ORIGIN rpath finds it) with
 * dlopen(RTLD_NOW); its handle, or NULL with the reason printed on stderr. */
void *dlopen_fix(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* DWARF of a relocatable object, read through libdwfl so that the relocations of its debug
 * sections (string offsets, addresses) are applied: libdw alone would read every string
 * of a .o file at offset 0. Shared by inlined.c and layout.c. */
#include "build/build_internal.h"

#include <elfutils/libdwfl.h>

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

int bld_dwarf_open(const char *obj, Dwfl **dwfl_out, Dwfl_Module **mod_out, Dwarf **dw_out,
		   struct sut_err *err)
{
	*dwfl_out = NULL;
	*mod_out = NULL;
	*dw_out = NULL;
	Dwfl *dwfl = dwfl_begin(&offline_callbacks);
	if (!dwfl)
		return sut_errf(err, "%s: reading debug info: %s", obj, dwfl_errmsg(-1));
	dwfl_report_begin(dwfl);
	Dwfl_Module *mod = dwfl_report_offline(dwfl, "obj", obj, -1);
	dwfl_report_end(dwfl, NULL, NULL);
	Dwarf_Addr bias;
	Dwarf *dw = mod ? dwfl_module_getdwarf(mod, &bias) : NULL;
	if (!dw) {
		dwfl_end(dwfl); /* no DWARF: not an error, callers have nothing to read */
		return 0;
	}
	*dwfl_out = dwfl;
	*mod_out = mod;
	*dw_out = dw;
	return 0;
}

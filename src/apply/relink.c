/* SPDX-License-Identifier: Apache-2.0 */
/* The image a patch would have in a process at a given place: the same target lookup,
 * resolver and linker as apply, so verify can compare what is mapped with what was signed.
 * Only reads the process. */
#include "apply/apply.h"

#include "apply/target.h"
#include "link/link.h"

int sut_relink(pid_t pid, const struct sut_patch *p, uint64_t place, struct sut_link_image *img,
	       struct sut_err *err)
{
	struct sut_target t;
	if (sut_target_open(pid, p->build_id, p->build_id_len, &t, err) < 0)
		return -1;
	struct sut_link_env env = {.place = place, .target_bias = t.obj->bias,
				   .resolve = sut_target_resolve, .ctx = &t};
	int rc = sut_link(p, &env, img, err);
	if (rc < 0)
		sut_err_wrap(err, "%s: re-linking patch %s", sut_target_label(&t), p->id);
	sut_target_close(&t);
	return rc;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* A borrowed thread's way home: a signal frame holding the thread's own state, written
 * below its stack before its registers are borrowed, so that a SIGKILL of suture at any
 * moment of a remote call leaves a thread that finishes the call and resumes exactly
 * where it was.
 *
 * Why it is needed: the kernel detaches the tracees of a dying tracer as they are. A
 * thread whose registers are borrowed (rip at our `syscall`, our arguments, orig_rax -1)
 * would run the call and then the instructions after it with registers that are not its
 * own (a SIGSEGV a moment later), or, single-stepped, die of the trap flag.
 *
 * How: the calls run at a `syscall; ret` in the target's own code, with rsp at the frame.
 * If suture dies, the thread returns from the call through `ret` into an rt_sigreturn
 * trampoline of the target's own (`mov $15,%rax; syscall`), and the kernel's rt_sigreturn
 * puts back, from the frame: every general register, the flags, the signal mask and the
 * extended (FPU/SSE/AVX) state, exactly as a signal handler's return does. The frame is
 * what the kernel itself would write there for a signal delivered on the thread's stack
 * (below the 128-byte red zone and the scratch area of remote.c, SUT_REMOTE_FRAME_GAP),
 * in a mapping that is the thread's stack (readable, writable, holding rsp). When suture
 * lives, the frame is never used: suture puts the registers back itself.
 *
 * What the frame cannot say, and how it is said instead:
 * - A blocking call the thread was interrupted in (rax -ERESTART...): after
 *   rt_sigreturn the kernel applies no restart logic, so the restart is written into the
 *   frame (rip back onto the `syscall`, rax the call's number): the thread makes the call
 *   again, as it would have. A relative sleep so interrupted starts over.
 * - The alternate signal stack, which rt_sigreturn also sets from the frame: the frame
 *   names a mode no kernel accepts, the kernel refuses that part (and ignores the
 *   refusal), and the thread's own alternate stack is kept.
 * - A temporary mask (ppoll, pselect, epoll_pwait, sigsuspend) cannot be put back by
 *   rt_sigreturn without losing the saved one: such threads get no frame (the caller
 *   then single-steps, remote_syscall.c).
 * Nor is a frame written when the thread has a shadow stack (`ret` would not be allowed to
 * leave it) or when its extended state cannot be read. */
#include "ptrace/ptrace_internal.h"

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "util/buf.h"

#ifndef NT_X86_XSTATE
#define NT_X86_XSTATE 0x202
#endif
#ifndef NT_X86_SHSTK
#define NT_X86_SHSTK 0x204
#endif

#define RED_ZONE 128
_Static_assert(SUT_REMOTE_FRAME_GAP >= RED_ZONE, "the frame keeps off the red zone");
#define XSTATE_MAX 16384
/* The kernel's marks of an extended state in a signal frame (asm/sigcontext.h). */
#ifndef FP_XSTATE_MAGIC1
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#endif
#define SW_RESERVED 464 /* offset of the software-reserved bytes in the FXSAVE area */
/* uc_flags (asm/ucontext.h): an extended state follows, and ss is taken as written */
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define SS_NO_CHANGE 3 /* neither SS_ONSTACK nor SS_DISABLE: refused, the stack kept */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* The kernel's x86-64 struct sigcontext, struct ucontext and struct rt_sigframe. */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2, fpstate;
	uint64_t reserved1[8];
};
struct k_stack {
	uint64_t ss_sp;
	int32_t ss_flags;
	uint32_t pad;
	uint64_t ss_size;
};
struct k_ucontext {
	uint64_t uc_flags, uc_link;
	struct k_stack uc_stack;
	struct k_sigcontext uc_mcontext;
	uint64_t uc_sigmask;
};
struct k_rt_sigframe {
	uint64_t pretcode; /* popped by the `ret` after the call: the trampoline */
	struct k_ucontext uc;
	uint8_t info[128];
};
_Static_assert(sizeof(struct k_sigcontext) == 256, "struct sigcontext of x86-64");
_Static_assert(sizeof(struct k_ucontext) == 304, "struct ucontext of x86-64");

/* The registers rt_sigreturn is to give the thread: its own, with an interrupted blocking
 * call made again (the restart the kernel would have made on its way back to it). */
static struct user_regs_struct home_regs(const struct user_regs_struct *r)
{
	struct user_regs_struct h = *r;
	if ((long)r->orig_rax < 0)
		return h;
	switch (-(long)r->rax) {
	case ERESTARTSYS:
	case ERESTARTNOINTR:
	case ERESTARTNOHAND:
	case ERESTART_RESTARTBLOCK:
		h.rax = r->orig_rax;
		h.rip -= 2;
		break;
	default:
		break;
	}
	return h;
}

static void fill_sigcontext(struct k_sigcontext *c, const struct user_regs_struct *h,
			    uint64_t fpstate)
{
	*c = (struct k_sigcontext){
		.r8 = h->r8, .r9 = h->r9, .r10 = h->r10, .r11 = h->r11,
		.r12 = h->r12, .r13 = h->r13, .r14 = h->r14, .r15 = h->r15,
		.rdi = h->rdi, .rsi = h->rsi, .rbp = h->rbp, .rbx = h->rbx,
		.rdx = h->rdx, .rax = h->rax, .rcx = h->rcx, .rsp = h->rsp,
		.rip = h->rip, .eflags = h->eflags,
		.cs = (uint16_t)h->cs, .ss = (uint16_t)h->ss,
		.fpstate = fpstate,
	};
}

/* The thread's extended state as a signal frame holds it: the XSAVE image ptrace gives,
 * whose software-reserved bytes (where ptrace puts the XCR0 the image was taken under)
 * become the kernel's description of a frame's state (struct _fpx_sw_bytes: the marks,
 * the sizes, the features), and the closing mark after it. *len: the bytes to write. */
static int read_xstate(struct sut_thread *t, uint8_t *buf, size_t *len, struct sut_err *err)
{
	struct iovec iov = {buf, XSTATE_MAX - 8}; /* a multiple of the regset's unit, room for the mark */
	if (ptrace(PTRACE_GETREGSET, t->tid, NT_X86_XSTATE, &iov) < 0)
		return sut_errno(err, "thread %d: its extended state cannot be read", (int)t->tid);
	uint64_t xcr0;
	memcpy(&xcr0, buf + SW_RESERVED, 8);
	uint32_t size = (uint32_t)iov.iov_len;
	if (size < 576 || !(xcr0 & 3))
		return sut_errf(err, "thread %d: an extended state the frame cannot describe "
				"(%u bytes, features 0x%llx)", (int)t->tid, (unsigned)size,
				(unsigned long long)xcr0);
	struct {
		uint32_t magic1, extended_size;
		uint64_t xfeatures;
		uint32_t xstate_size, padding[7];
	} sw = {FP_XSTATE_MAGIC1, size + 4, xcr0, size, {0}};
	_Static_assert(sizeof sw == 48, "struct _fpx_sw_bytes");
	memcpy(buf + SW_RESERVED, &sw, sizeof sw);
	uint32_t magic2 = FP_XSTATE_MAGIC2;
	memcpy(buf + size, &magic2, 4);
	*len = size + 4;
	return 0;
}

int ptr_remote_frame(pid_t pid, struct sut_thread *t, const struct sut_syscall_site *site,
		     uint64_t mask, uint64_t *sp, struct sut_err *err)
{
	if (!site->ret_follows || !site->sigreturn || !site->stack_lo)
		return sut_errf(err, "no `syscall; ret` and rt_sigreturn in the process, or no "
				"known stack");
	uint64_t ssp;
	struct iovec shstk = {&ssp, sizeof ssp};
	if (ptrace(PTRACE_GETREGSET, t->tid, NT_X86_SHSTK, &shstk) == 0)
		return sut_errf(err, "thread %d has a shadow stack", (int)t->tid);

	uint8_t *x = sut_xmalloc(XSTATE_MAX);
	size_t xlen = 0;
	int rc = read_xstate(t, x, &xlen, err);
	uint64_t top = t->regs.rsp - SUT_REMOTE_FRAME_GAP;
	uint64_t fpstate = (top - xlen) & ~63ull;
	uint64_t frame = ((fpstate - sizeof(struct k_rt_sigframe)) & ~15ull) - 8;
	if (rc == 0 && (t->regs.rsp < RED_ZONE + SUT_REMOTE_FRAME_GAP + XSTATE_MAX + 4096 ||
			frame < site->stack_lo || t->regs.rsp > site->stack_hi))
		rc = sut_errf(err, "thread %d: no room for a signal frame on its stack",
			      (int)t->tid);
	if (rc == 0) {
		size_t len = (size_t)(fpstate + xlen - frame);
		uint8_t *img = sut_xcalloc(1, len);
		struct k_rt_sigframe fr = {.pretcode = site->sigreturn};
		struct user_regs_struct h = home_regs(&t->regs);
		fr.uc.uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS;
		fr.uc.uc_stack.ss_flags = SS_NO_CHANGE;
		fill_sigcontext(&fr.uc.uc_mcontext, &h, fpstate);
		fr.uc.uc_sigmask = mask;
		memcpy(img, &fr, sizeof fr);
		memcpy(img + (fpstate - frame), x, xlen);
		rc = sut_ptrace_write(pid, frame, img, len, err);
		free(img);
	}
	free(x);
	if (rc == 0)
		*sp = frame;
	return rc;
}

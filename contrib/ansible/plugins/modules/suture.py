#!/usr/bin/python
# SPDX-License-Identifier: Apache-2.0
# The suture.livepatch.suture module: runs one suture subcommand on the managed host with
# --json and returns what suture printed, parsed, as the result and as a fact.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: suture
short_description: Live-patch running processes with suture
version_added: "0.1.0"
description:
  - Runs one C(suture) subcommand on the managed host (C(apply), C(revert), C(status),
    C(scan), C(verify) or C(rollout)) with C(--json), and returns the JSON document suture
    printed, parsed, as C(suture) and as the fact C(suture_COMMAND) (for example
    C(suture_rollout)), so later tasks and plays can read it through C(hostvars).
  - C(changed) is true only when suture applied or reverted something (in check mode,
    when it would). A failure returns suture's own error message, which names the process,
    the object, the function and the reason, with C(failed=true).
  - C(apply) and C(revert) are idempotent; a patch that is already applied (or already
    not applied) in a process counts as success without change.
options:
  command:
    description:
      - The suture subcommand to run.
      - C(status), C(scan) and C(verify) only read; C(apply), C(revert) and C(rollout)
        change processes.
    type: str
    required: true
    choices: [apply, revert, status, scan, verify, rollout]
  patches:
    description:
      - Patch files on the managed host. Required for C(apply) and for a new C(rollout);
        for C(verify) and C(scan) they are compared with, or counted as available,
        besides the store folders.
    type: list
    elements: path
    default: []
  patch_ids:
    description:
      - Ids of applied patches to take out (C(revert)); see C(suture status).
    type: list
    elements: str
    default: []
  pids:
    description:
      - Processes to act on (C(-p PID) each). For C(rollout) they are the C(--select) list.
    type: list
    elements: int
    default: []
  all:
    description:
      - C(apply) to every process that maps a patch's target build, C(revert) from every
        process that has the patch, C(verify) every process.
      - C(apply) and C(revert) need either C(pids) or C(all).
    type: bool
    default: false
  waves:
    description: C(rollout) waves, cumulative counts or percentages (C(1,10%,100%))
    type: str
  health:
    description:
      - C(rollout) health command, run by C(/bin/sh) on the managed host after each wave;
        exit status 0 means healthy.
    type: str
  soak:
    description: C(rollout) wait after each wave before checking (C(500ms), C(30s), C(2m)).
    type: str
  canary:
    description: C(rollout) patches this PID first.
    type: int
  resume:
    description: C(rollout) continue the interrupted rollout with this id.
    type: str
  abort:
    description: C(rollout) revert every wave of the rollout with this id, newest first.
    type: str
  state_dir:
    description: C(rollout) state folder (suture's default is C(/var/lib/suture/rollouts)).
    type: path
  trusted_keys:
    description:
      - Public keys to trust besides C(/etc/suture/trusted-keys/*.pem) (C(--trusted-key)
        each; C(apply), C(rollout), C(verify), C(scan)).
    type: list
    elements: path
    default: []
  audit_log:
    description:
      - Audit trail file, or C(off) (C(apply), C(revert), C(rollout)); suture's default is
        C(/var/log/suture/audit.jsonl).
    type: str
  feeds:
    description: C(scan) OSV feed files or folders.
    type: list
    elements: path
    default: []
  timeout:
    description: Per-transaction consistency timeout in milliseconds.
    type: int
  executable:
    description: The suture program on the managed host.
    type: path
    default: suture
attributes:
  check_mode:
    support: full
    description:
      - C(apply) and C(rollout) run with C(--dry-run) (every check, nothing written).
      - C(revert) reads C(suture status) and reports what it would take out.
      - C(rollout) with C(abort) or C(resume) reads the rollout's state and reports
        whether it would change anything.
      - C(status), C(scan) and C(verify) only read and run as usual.
notes:
  - The module needs the suture command line on the managed host, and runs as root there
    (C(become) or C(ansible_user=root)).
  - Strings in the result that come from target processes (for example C(comm)) are
    untrusted.
author:
  - suture project
"""

EXAMPLES = r"""
- name: Patch every process that maps the fixed build
  suture.livepatch.suture:
    command: apply
    patches: [/var/lib/suture/patches/fix.suture]
    all: true

- name: Roll a patch out on this host in waves, with a health command
  suture.livepatch.suture:
    command: rollout
    patches: [/var/lib/suture/patches/fix.suture]
    waves: "1,50%,100%"
    soak: 30s
    health: curl -fsS http://127.0.0.1:8080/health
  register: ro

- name: Take that rollout back out
  suture.livepatch.suture:
    command: rollout
    abort: "{{ ro.suture.id }}"

- name: Prove every patch is in force as signed
  suture.livepatch.suture:
    command: verify
    all: true

- name: What is patched where
  suture.livepatch.suture:
    command: status
  register: st

- name: Take one patch out of every process
  suture.livepatch.suture:
    command: revert
    patch_ids: [fix]
    all: true
"""

RETURN = r"""
suture:
  description:
    - The JSON document suture printed, parsed (for C(revert) in check mode, the
      C(status) document it read). Its form per command is in suture's documentation
      (docs/rollout.md for a rollout's state document).
  returned: when suture printed one
  type: dict
  sample: {"id": "20261202T001500Z-412", "state": "done", "dry_run": false, "waves": []}
cmd:
  description: The command line that was run.
  returned: always
  type: list
  elements: str
  sample: [suture, rollout, --json, --waves, "1,50%,100%", /var/lib/suture/patches/fix.suture]
exit_status:
  description:
    - suture's exit status (named so because Ansible takes a non-zero C(rc) for a failure,
      while an idempotent revert or a scan that finds exposure exits 1 without failing).
  returned: when suture ran
  type: int
  sample: 0
stderr:
  description: suture's messages (progress, warnings, errors).
  returned: when suture ran
  type: str
  sample: "rollout 20261202T001500Z-412: wave 1 applied (412)"
errors:
  description: Every error suture reported, one per item.
  returned: always
  type: list
  elements: str
  sample: ["pid 4242 (svc): patch fix is not applied"]
unchanged:
  description: C(apply)/C(revert) results that needed nothing (already applied or not applied).
  returned: for apply and revert
  type: list
  elements: dict
would_revert:
  description: In check mode, the (pid, patch) pairs C(revert) would take out.
  returned: for revert in check mode
  type: list
  elements: dict
  sample: [{"pid": 4242, "patch": "fix"}]
ansible_facts:
  description: The same document as C(suture), as the fact C(suture_COMMAND).
  returned: when suture printed one
  type: dict
  contains:
    suture_rollout:
      description: The rollout's state document.
      returned: for rollout
      type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule

ALREADY = {"apply": "is already applied", "revert": "is not applied"}
NOTHING_TO_REVERT = "no running process has these patches applied"


def suture_errors(stderr):
    """The error lines suture printed ("suture: ..."), without the prefix."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("suture: "):
            line = line[len("suture: "):]
            if not line.startswith("warning:") and not line.startswith("note:"):
                out.append(line)
    return out


def parse(stdout):
    text = stdout.strip()
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc


class Runner(object):
    def __init__(self, module):
        self.m = module
        self.p = module.params
        self.exe = module.get_bin_path(self.p["executable"], required=False) or self.p["executable"]

    def run(self, args):
        cmd = [self.exe] + args
        rc, out, err = self.m.run_command(cmd, check_rc=False, errors="surrogate_or_replace")
        return cmd, rc, out, err

    def common(self, keys=False, audit=False, timeout=False):
        a = []
        if keys:
            for k in self.p["trusted_keys"]:
                a += ["--trusted-key", k]
        if audit and self.p["audit_log"]:
            a += ["--audit-log", self.p["audit_log"]]
        if timeout and self.p["timeout"] is not None:
            a += ["--timeout", str(self.p["timeout"])]
        return a

    def pid_args(self):
        a = []
        for pid in self.p["pids"]:
            a += ["-p", str(pid)]
        return a

    def finish(self, command, cmd, rc, out, err, failed, changed, extra=None, msg=None):
        doc = parse(out)
        errors = suture_errors(err)
        res = dict(changed=changed, cmd=cmd, exit_status=rc, stderr=err, errors=errors)
        if doc is not None:
            res["suture"] = doc
            res["ansible_facts"] = {"suture_" + command: doc}
        if extra:
            res.update(extra)
        if failed:
            if not msg:
                msg = "; ".join(errors) or err.strip() or "suture %s exited with status %d" % (command, rc)
            self.m.fail_json(msg=msg, **res)
        res["msg"] = msg or "suture %s: ok" % command
        self.m.exit_json(**res)

    # apply and revert: transactions, results per (pid, patch)
    def transactions(self, command):
        p = self.p
        if not p["pids"] and not p["all"]:
            self.m.fail_json(msg="%s needs pids or all" % command, cmd=[], errors=[])
        if command == "apply":
            if not p["patches"]:
                self.m.fail_json(msg="apply needs patches", cmd=[], errors=[])
            args = ["apply", "--json"] + self.pid_args() + (["--all"] if p["all"] else [])
            if self.m.check_mode:
                args.append("--dry-run")
            args += self.common(keys=True, audit=True, timeout=True) + p["patches"]
        else:
            if not p["patch_ids"]:
                self.m.fail_json(msg="revert needs patch_ids", cmd=[], errors=[])
            if self.m.check_mode:
                return self.revert_check()
            args = ["revert", "--json"] + self.pid_args() + (["--all"] if p["all"] else [])
            args += self.common(audit=True, timeout=True) + p["patch_ids"]
        cmd, rc, out, err = self.run(args)
        doc = parse(out)
        if rc == 2 or not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            return self.finish(command, cmd, rc, out, err, True, False)
        done, unchanged, failed = [], [], []
        for r in doc["results"]:
            if r.get("ok"):
                done.append(r)
            elif ALREADY[command] in (r.get("error") or ""):
                unchanged.append(r)
            else:
                failed.append(r)
        errs = [r.get("error") or "pid %s: %s failed" % (r.get("pid"), command) for r in failed]
        # revert --all with nothing to revert anywhere: nothing to do, not a failure
        nothing = command == "revert" and not doc["results"] and NOTHING_TO_REVERT in err
        bad = bool(failed) or (rc != 0 and not unchanged and not nothing)
        msg = None
        if bad:
            msg = "; ".join(errs or suture_errors(err)) or "suture %s exited with status %d" % (command, rc)
        else:
            msg = "%s%s: %d done, %d unchanged" % (
                command, " (dry run)" if self.m.check_mode else "", len(done), len(unchanged))
        return self.finish(command, cmd, rc, out, err, bad, bool(done), dict(unchanged=unchanged), msg)

    def revert_check(self):
        p = self.p
        cmd, rc, out, err = self.run(["status", "--json"] + self.pid_args())
        doc = parse(out)
        if rc != 0 or not isinstance(doc, dict):
            return self.finish("revert", cmd, rc, out, err, True, False)
        want = set(p["patch_ids"])
        would = []
        for proc in doc.get("processes") or []:
            for obj in proc.get("objects") or []:
                for pa in obj.get("patches") or []:
                    if pa.get("id") in want and pa.get("live"):
                        would.append({"pid": proc.get("pid"), "patch": pa.get("id")})
        return self.finish("revert", cmd, rc, out, err, False, bool(would), dict(would_revert=would),
                           "revert (check mode): would take out %d" % len(would))

    def read_only(self, command):
        p = self.p
        if command == "status":
            args = ["status", "--json"] + self.pid_args()
        elif command == "verify":
            args = ["verify", "--json"] + self.pid_args() + (["--all"] if p["all"] else [])
            for f in p["patches"]:
                args += ["--patch", f]
            args += self.common(keys=True)
        else:
            args = ["scan", "--json"] + self.pid_args()
            for f in p["feeds"]:
                args += ["--feed", f]
            for f in p["patches"]:
                args += ["--patch", f]
            args += self.common(keys=True)
        cmd, rc, out, err = self.run(args)
        doc = parse(out)
        # scan exits 1 when something is exposed: a finding, not a failure
        ok_rcs = (0, 1) if command == "scan" else (0,)
        failed = rc not in ok_rcs or doc is None
        msg = None
        if command == "verify" and failed and isinstance(doc, dict):
            issues = []
            for proc in doc.get("processes") or []:
                for i in proc.get("issues") or []:
                    issues.append("pid %s (%s): %s%s: %s" % (
                        proc.get("pid"), proc.get("comm"), i.get("patch") or "",
                        " " + i["function"] if i.get("function") else "", i.get("message")))
            msg = "; ".join(issues) or None
        extra = {}
        if command == "scan" and isinstance(doc, dict):
            extra["exposed"] = doc.get("exposed", 0)
        return self.finish(command, cmd, rc, out, err, failed, False, extra, msg)

    def rollout(self):
        p = self.p
        if p["abort"] and p["resume"]:
            self.m.fail_json(msg="abort and resume exclude each other", cmd=[], errors=[])
        sd = ["--state-dir", p["state_dir"]] if p["state_dir"] else []
        if p["abort"] or p["resume"]:
            rid = p["abort"] or p["resume"]
            if self.m.check_mode:
                return self.rollout_check(rid, sd)
            args = ["rollout", "--json", "--abort" if p["abort"] else "--resume", rid] + sd
            args += self.common(keys=True, audit=True, timeout=True)
        else:
            if not p["patches"]:
                self.m.fail_json(msg="rollout needs patches", cmd=[], errors=[])
            args = ["rollout", "--json"]
            for opt in ("waves", "health", "soak"):
                if p[opt] is not None:
                    args += ["--" + opt, p[opt]]
            if p["pids"]:
                args += ["--select", ",".join(str(x) for x in p["pids"])]
            if p["canary"] is not None:
                args += ["--canary", str(p["canary"])]
            if self.m.check_mode:
                args.append("--dry-run")
            args += sd + self.common(keys=True, audit=True, timeout=True) + p["patches"]
        cmd, rc, out, err = self.run(args)
        doc = parse(out)
        if not isinstance(doc, dict) or "state" not in doc:
            return self.finish("rollout", cmd, rc, out, err, True, False)
        # a dry run that went through a wave would have changed it (check mode's "changed")
        touched = (any(w.get("state") not in ("pending",) for w in doc.get("waves") or [])
                   or bool(doc.get("undone")))
        msg = "rollout %s: %s%s" % (doc.get("id"), doc.get("state"), " (dry run)" if doc.get("dry_run") else "")
        if doc.get("failure"):
            msg += ": " + doc["failure"]
        undone = ["wave %s pid %s patch %s %s" % (u.get("wave"), u.get("pid"), u.get("patch"),
                                                  "reverted" if u.get("ok") else "NOT reverted: %s" % u.get("error"))
                  for u in doc.get("undone") or []]
        if undone:
            msg += "; undone: " + ", ".join(undone)
        if rc != 0:
            errs = suture_errors(err)
            if not doc.get("failure") and errs:
                msg += ": " + "; ".join(errs)
        return self.finish("rollout", cmd, rc, out, err, rc != 0, touched, None, msg)

    def rollout_check(self, rid, sd):
        cmd, rc, out, err = self.run(["rollout", "--list", "--json"] + sd)
        doc = parse(out)
        if rc != 0 or not isinstance(doc, list):
            return self.finish("rollout", cmd, rc, out, err, True, False)
        found = [r for r in doc if isinstance(r, dict) and r.get("id") == rid]
        if not found:
            self.m.fail_json(msg="no rollout %s in the state folder" % rid, cmd=cmd, exit_status=rc, errors=[])
        state = found[0].get("state")
        if self.p["abort"]:
            would = state not in ("aborted", "rolled-back") and not found[0].get("dry_run")
        else:
            would = state in ("running", "interrupted")
        res = dict(changed=bool(would), cmd=cmd, exit_status=rc, stderr=err, errors=[], suture=found[0],
                   msg="rollout %s is %s: %s would %schange it" % (
                       rid, state, "abort" if self.p["abort"] else "resume", "" if would else "not "))
        self.m.exit_json(**res)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="str", required=True,
                         choices=["apply", "revert", "status", "scan", "verify", "rollout"]),
            patches=dict(type="list", elements="path", default=[]),
            patch_ids=dict(type="list", elements="str", default=[]),
            pids=dict(type="list", elements="int", default=[]),
            all=dict(type="bool", default=False),
            waves=dict(type="str"),
            health=dict(type="str"),
            soak=dict(type="str"),
            canary=dict(type="int"),
            resume=dict(type="str"),
            abort=dict(type="str"),
            state_dir=dict(type="path"),
            trusted_keys=dict(type="list", elements="path", default=[], no_log=False),
            audit_log=dict(type="str"),
            feeds=dict(type="list", elements="path", default=[]),
            timeout=dict(type="int"),
            executable=dict(type="path", default="suture"),
        ),
        supports_check_mode=True,
    )
    r = Runner(module)
    command = module.params["command"]
    if command in ("apply", "revert"):
        r.transactions(command)
    elif command == "rollout":
        r.rollout()
    else:
        r.read_only(command)


if __name__ == "__main__":
    main()

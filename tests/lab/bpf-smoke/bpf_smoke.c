// SPDX-License-Identifier: GPL-2.0-only
/*
 * Load bpf_smoke.bpf.c, make a known number of getppid() calls and check that
 * both programs counted exactly those. Exit 0 only when they did.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bpf_smoke.skel.h"

#define GETPPID_CALLS 1000

int main(void)
{
	struct bpf_smoke_bpf *skeleton;
	int error, call;

	skeleton = bpf_smoke_bpf__open();
	if (!skeleton) {
		fprintf(stderr, "bpf-smoke: open failed: %s\n", strerror(errno));
		return 2;
	}
	skeleton->rodata->target_tgid = getpid();
	error = bpf_smoke_bpf__load(skeleton);
	if (!error)
		error = bpf_smoke_bpf__attach(skeleton);
	if (error) {
		fprintf(stderr, "bpf-smoke: load/attach failed: %s\n", strerror(-error));
		bpf_smoke_bpf__destroy(skeleton);
		return 2;
	}
	for (call = 0; call < GETPPID_CALLS; call++)
		syscall(SYS_getppid);
	printf("getppid calls %d, tracepoint counted %llu, tp_btf counted %llu\n",
	       GETPPID_CALLS,
	       (unsigned long long)skeleton->bss->tracepoint_count,
	       (unsigned long long)skeleton->bss->tp_btf_count);
	error = skeleton->bss->tracepoint_count != GETPPID_CALLS ||
		skeleton->bss->tp_btf_count != GETPPID_CALLS;
	bpf_smoke_bpf__destroy(skeleton);
	return error;
}

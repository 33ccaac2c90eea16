// SPDX-License-Identifier: GPL-2.0-only
/*
 * The capabilities hmmtrace needs, asked of the kernel with capget(2) (no
 * libcap), and what /proc/kallsyms shows this user: see privileges.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include "kallsyms.h"
#include "privileges.h"
#include "session.h"

static bool capable(int capability)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	__u64 effective;

	if (syscall(SYS_capget, &header, data))
		return false;
	effective = data[0].effective | (__u64)data[1].effective << 32;
	return effective & (1ULL << capability);
}

/* A kernel.* sysctl's integer value, or -1 when it cannot be read. */
static int read_sysctl(const char *name)
{
	char path[64];
	FILE *file;
	int value = -1;

	snprintf(path, sizeof(path), "/proc/sys/kernel/%s", name);
	file = fopen(path, "r");
	if (!file)
		return -1;
	if (fscanf(file, "%d", &value) != 1)
		value = -1;
	fclose(file);
	return value;
}

/* CLAUSE appended to the one line, after "; " if it is not the first. */
static void add_clause(char *line, size_t size, const char *clause)
{
	size_t length = strlen(line);

	snprintf(line + length, size - length, "%s%s", length ? "; " : "", clause);
}

/*
 * What keeps /proc/kallsyms' addresses from us, as a clause of the line, or
 * nothing. The kernel decides at open (kallsyms_show_value()): shown with
 * kernel.kptr_restrict=0 and kernel.perf_event_paranoid at most 1, else with
 * CAP_SYSLOG, never with kernel.kptr_restrict=2. Reading them is the test
 * that cannot disagree with it.
 */
static void kallsyms_clause(char *clause, size_t size, bool *syslog_missing)
{
	int shown = kallsyms_addresses_shown();
	int kptr_restrict = read_sysctl("kptr_restrict");

	clause[0] = '\0';
	*syslog_missing = false;
	if (shown > 0)
		return;
	if (shown < 0)
		snprintf(clause, size, "cannot read /proc/kallsyms: %s", strerror(-shown));
	else if (kptr_restrict >= 2)
		snprintf(clause, size, "kernel.kptr_restrict=%d hides the /proc/kallsyms addresses "
			 "that name the callbacks from every user: set it to 1 and add CAP_SYSLOG",
			 kptr_restrict);
	else if (!capable(CAP_SYSLOG))
		*syslog_missing = true;
	else
		snprintf(clause, size, "/proc/kallsyms shows no addresses to this user despite "
			 "CAP_SYSLOG (is it CAP_SYSLOG of a user namespace?)");
}

int privileges_check(void)
{
	bool administrator = capable(CAP_SYS_ADMIN), syslog_missing;
	const char *missing[3];
	char line[512] = "", clause[256];
	size_t count = 0;

	/* bpf_capable() and perfmon_capable() accept CAP_SYS_ADMIN too. */
	if (!administrator && !capable(CAP_BPF))
		missing[count++] = "CAP_BPF";
	if (!administrator && !capable(CAP_PERFMON))
		missing[count++] = "CAP_PERFMON";
	kallsyms_clause(clause, sizeof(clause), &syslog_missing);
	if (syslog_missing)
		missing[count++] = "CAP_SYSLOG";
	if (count) {
		size_t length = snprintf(line, sizeof(line), "missing");

		for (size_t index = 0; index < count; index++)
			length += snprintf(line + length, sizeof(line) - length, "%s%s",
					   !index ? " " : index == count - 1 ? " and " : ", ",
					   missing[index]);
		if (syslog_missing)
			snprintf(line + length, sizeof(line) - length, " (without it kernel."
				 "kptr_restrict=%d and kernel.perf_event_paranoid=%d hide the "
				 "/proc/kallsyms addresses that name the callbacks)",
				 read_sysctl("kptr_restrict"), read_sysctl("perf_event_paranoid"));
		add_clause(line, sizeof(line), "run as root or grant them");
	}
	if (clause[0])
		add_clause(line, sizeof(line), clause);
	if (!line[0])
		return EXIT_OK;
	fprintf(stderr, "hmmtrace: not permitted: %s (see hmmtrace(8))\n", line);
	return EXIT_NOT_PERMITTED;
}

bool privileges_module_btf_readable(void)
{
	return capable(CAP_SYS_ADMIN);
}

/*
 * The probe is the cheapest event there is, a dummy counting this thread in
 * user space only: upstream lets anyone open it at every perf_event_paranoid
 * level, so a refusal is a kernel that closes perf_event_open(2) to all but
 * CAP_SYS_ADMIN (Debian's perf_event_paranoid=3), which kprobes go through.
 */
bool privileges_perf_events_open(char *why, size_t why_size)
{
	struct perf_event_attr attributes = {
		.type = PERF_TYPE_SOFTWARE, .size = sizeof(attributes),
		.config = PERF_COUNT_SW_DUMMY, .exclude_kernel = 1, .exclude_hv = 1,
	};
	int descriptor = syscall(SYS_perf_event_open, &attributes, 0, -1, -1, 0);

	if (descriptor >= 0) {
		close(descriptor);
		return true;
	}
	if (errno != EACCES && errno != EPERM)
		return true;	/* not a permission: let the attach say what it is */
	snprintf(why, why_size, "missing CAP_SYS_ADMIN, which perf_event_open(2) needs for "
		 "kprobes at kernel.perf_event_paranoid=%d", read_sysctl("perf_event_paranoid"));
	return false;
}

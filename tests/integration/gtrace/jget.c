/* jget FILE summary.KEY | FILE syscall.NAME | FILE syscall_timed.NAME |
 * FILE MEMBER: prints one number (or string: `syscalls_via`) from a gtrace
 * --json report (the tests' JSON reader; no jq).  syscall_timed: the
 * calls in that syscall's latency histogram. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	json_error_t e;
	json_t *j = argc == 3 ? json_load_file(argv[1], 0, &e) : NULL, *v = NULL;
	if (!j)
		return 2;
	if (!strncmp(argv[2], "summary.", 8)) {
		v = json_object_get(json_object_get(j, "summary"), argv[2] + 8);
	} else if (!strncmp(argv[2], "syscall.", 8)) {
		size_t i;
		json_t *s;
		json_array_foreach(json_object_get(j, "syscalls"), i, s)
			if (!strcmp(json_string_value(json_object_get(s, "name")) ?: "", argv[2] + 8))
				v = json_object_get(s, "count");
		if (!v) {
			printf("0\n");
			return 0;
		}
	} else if (!strncmp(argv[2], "syscall_timed.", 14)) {
		/* calls of that syscall in its latency histogram */
		size_t i, k;
		json_t *s, *b;
		double n = 0;
		json_array_foreach(json_object_get(j, "syscalls"), i, s)
			if (!strcmp(json_string_value(json_object_get(s, "name")) ?: "", argv[2] + 14))
				json_array_foreach(json_object_get(s, "hist_log2_ns"), k, b)
					n += json_number_value(b);
		printf("%.0f\n", n);
		return 0;
	} else {
		v = json_object_get(j, argv[2]);
	}
	if (json_is_string(v)) {
		printf("%s\n", json_string_value(v));
		return 0;
	}
	if (!json_is_number(v))
		return 3;
	printf("%.0f\n", json_number_value(v));
	return 0;
}

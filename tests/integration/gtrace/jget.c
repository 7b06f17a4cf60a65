/* jget FILE summary.KEY | FILE syscall.NAME | FILE version: prints one
 * number from a gtrace --json report (the tests' JSON reader; no jq). */
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
	} else {
		v = json_object_get(j, argv[2]);
	}
	if (!json_is_number(v))
		return 3;
	printf("%.0f\n", json_number_value(v));
	return 0;
}

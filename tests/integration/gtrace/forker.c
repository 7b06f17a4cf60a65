/* forker N K: forks N child processes; each makes exactly K getppid()
 * calls and exits with status 3; the parent makes none and waits for
 * them all (gtrace test: children are followed by default, counted into
 * the totals and listed, and left out with --no-follow). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 3, k = argc > 2 ? atol(argv[2]) : 1000;
	for (long i = 0; i < n; i++) {
		pid_t p = fork();
		if (p < 0)
			return 1;
		if (p == 0) {
			for (long j = 0; j < k; j++)
				syscall(SYS_getppid);
			_exit(3);
		}
	}
	int st, bad = 0;
	while (wait(&st) > 0)
		bad += !WIFEXITED(st) || WEXITSTATUS(st) != 3;
	return bad ? 1 : 0;
}

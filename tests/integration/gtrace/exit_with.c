/* exit_with CODE | exit_with -SIG: exits with CODE, or kills itself with
 * signal SIG (gtrace test: `gtrace run` passes the status on). */
#include <signal.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int v = argc > 1 ? atoi(argv[1]) : 0;
	if (v < 0) {
		signal(-v, SIG_DFL);
		raise(-v);
	}
	return v;
}

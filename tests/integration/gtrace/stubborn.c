/* stubborn SECONDS: ignores SIGINT and SIGTERM, prints "ready" and
 * sleeps for SECONDS (gtrace test: a command that will not stop when
 * asked; gtrace must kill it, wait for it, and report what happened). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 60;
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < secs; i++)
		sleep(1);
	return 0;
}

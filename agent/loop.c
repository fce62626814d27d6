/* loop.c - the daemon's single event loop.
 *
 * epoll over the fds that modules register, one timerfd armed for the
 * earliest timer, nothing else: when no timer is due and no fd is readable the
 * process sleeps in epoll_wait() with no timeout.  Timers are kept in a list
 * sorted by due time; there are few of them (registration, retries, hooks). */
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <stddef.h>
#include <unistd.h>

#define tfd_loop(lf) ((struct loop *)((char *)(lf) - offsetof(struct loop, tfd)))

struct loop {
	int epfd;
	struct loop_fd tfd;
	struct loop_timer *timers;      /* sorted by due */
	uint64_t armed_for;             /* due time the timerfd is set to, 0 = disarmed */
	bool stop;
};

uint64_t loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int64_t loop_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rearm(struct loop *l)
{
	struct itimerspec its = { 0 };
	uint64_t due = l->timers ? l->timers->due : 0;

	if (due == l->armed_for)
		return;
	l->armed_for = due;
	if (due) {
		/* absolute monotonic time; 0 would disarm, so never pass it */
		its.it_value.tv_sec = (time_t)(due / 1000);
		its.it_value.tv_nsec = (long)(due % 1000) * 1000000 + 1;
	}
	timerfd_settime(l->tfd.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void run_timers(struct loop_fd *lf, uint32_t revents)
{
	struct loop *l = tfd_loop(lf);
	uint64_t expirations, now = loop_now();
	struct loop_timer *t;

	(void)revents;
	if (read(lf->fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		return;
	l->armed_for = 0;
	while ((t = l->timers) && t->due <= now) {
		l->timers = t->next;
		t->armed = false;
		t->next = NULL;
		t->cb(t);
	}
	rearm(l);
}

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->tfd.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	l->tfd.events = EPOLLIN;
	l->tfd.cb = run_timers;
	if (l->epfd < 0 || l->tfd.fd < 0 || loop_add_fd(l, &l->tfd) < 0) {
		loop_free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	if (l->tfd.fd >= 0)
		close(l->tfd.fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
}

int loop_add_fd(struct loop *l, struct loop_fd *lf)
{
	struct epoll_event ev = { .events = lf->events, .data.ptr = lf };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, lf->fd, &ev) < 0 ? -errno : 0;
}

int loop_mod_fd(struct loop *l, struct loop_fd *lf)
{
	struct epoll_event ev = { .events = lf->events, .data.ptr = lf };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, lf->fd, &ev) < 0 ? -errno : 0;
}

void loop_del_fd(struct loop *l, struct loop_fd *lf)
{
	if (lf->fd >= 0)
		epoll_ctl(l->epfd, EPOLL_CTL_DEL, lf->fd, NULL);
}

void loop_timer_cancel(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **pp;

	if (!t->armed)
		return;
	for (pp = &l->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
	rearm(l);
}

void loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms)
{
	struct loop_timer **pp;

	loop_timer_cancel(l, t);
	t->due = loop_now() + ms;
	for (pp = &l->timers; *pp && (*pp)->due <= t->due; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	t->armed = true;
	rearm(l);
}

int64_t loop_timer_left(struct loop *l, const struct loop_timer *t)
{
	uint64_t now = loop_now();

	(void)l;
	if (!t->armed)
		return -1;
	return t->due > now ? (int64_t)(t->due - now) : 0;
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

int loop_run(struct loop *l)
{
	struct epoll_event ev[16];
	int i, n;

	l->stop = false;
	while (!l->stop) {
		n = epoll_wait(l->epfd, ev, 16, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !l->stop; i++) {
			struct loop_fd *lf = ev[i].data.ptr;

			lf->cb(lf, ev[i].events);
		}
	}
	return 0;
}

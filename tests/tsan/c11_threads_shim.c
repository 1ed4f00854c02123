/* Linked into every executable of the `tsan` preset only.
 *
 * librdkafka creates its threads and locks with C11 <threads.h> (thrd_create, mtx_lock, cnd_wait).
 * glibc implements those by calling its internal pthread functions directly, so ThreadSanitizer's
 * pthread interceptors never see them: librdkafka's threads start unregistered and crash inside
 * TSan's allocator, and its locks are invisible, so every access they order looks like a race.
 * These definitions take precedence over glibc's (an executable's symbols come first in the
 * dynamic lookup) and forward to the public pthread functions, which TSan intercepts. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct segstream_thrd_start {
  thrd_start_t func;
  void* arg;
};

static void* segstream_thrd_trampoline(void* p) {
  struct segstream_thrd_start s = *(struct segstream_thrd_start*)p;
  free(p);
  return (void*)(intptr_t)s.func(s.arg);
}

static int segstream_thrd_result(int rc) {
  if (rc == 0) return thrd_success;
  if (rc == ENOMEM) return thrd_nomem;
  if (rc == EBUSY) return thrd_busy;
  if (rc == ETIMEDOUT) return thrd_timedout;
  return thrd_error;
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct segstream_thrd_start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  int rc = pthread_create((pthread_t*)thr, NULL, segstream_thrd_trampoline, s);
  if (rc != 0) free(s);
  return segstream_thrd_result(rc);
}

int thrd_join(thrd_t thr, int* res) {
  void* out = NULL;
  int rc = pthread_join((pthread_t)thr, &out);
  if (rc == 0 && res != NULL) *res = (int)(intptr_t)out;
  return segstream_thrd_result(rc);
}

int thrd_detach(thrd_t thr) { return segstream_thrd_result(pthread_detach((pthread_t)thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int rc = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return segstream_thrd_result(rc);
}

int mtx_lock(mtx_t* m) { return segstream_thrd_result(pthread_mutex_lock((pthread_mutex_t*)m)); }

int mtx_trylock(mtx_t* m) {
  return segstream_thrd_result(pthread_mutex_trylock((pthread_mutex_t*)m));
}

int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict ts) {
  return segstream_thrd_result(pthread_mutex_timedlock((pthread_mutex_t*)m, ts));
}

int mtx_unlock(mtx_t* m) {
  return segstream_thrd_result(pthread_mutex_unlock((pthread_mutex_t*)m));
}

void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return segstream_thrd_result(pthread_cond_init((pthread_cond_t*)c, NULL)); }

int cnd_signal(cnd_t* c) { return segstream_thrd_result(pthread_cond_signal((pthread_cond_t*)c)); }

int cnd_broadcast(cnd_t* c) {
  return segstream_thrd_result(pthread_cond_broadcast((pthread_cond_t*)c));
}

int cnd_wait(cnd_t* c, mtx_t* m) {
  return segstream_thrd_result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}

int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict ts) {
  return segstream_thrd_result(
      pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, ts));
}

void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

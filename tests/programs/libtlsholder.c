/* Proves: (library for roots_tls_dynamic) a __thread variable of a dlopen'ed library is a root
 * Expect: built as build/tests/libtlsholder.so; holds one pointer per thread in dynamic TLS */
__thread void *volatile tlsholder_slot;

void tlsholder_set(void *p);
void *tlsholder_get(void);

void tlsholder_set(void *p)
{
	tlsholder_slot = p;
}

void *tlsholder_get(void)
{
	return tlsholder_slot;
}

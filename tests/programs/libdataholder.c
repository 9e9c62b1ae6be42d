/* Proves: (library for roots_dlopen_data) the writable data of a dlopen'ed library is a root
 * Expect: built as build/tests/libdataholder.so; keeps one pointer in .bss and one in .data */
void *volatile dataholder_bss;
void *volatile dataholder_data = (void *)&dataholder_data;

void dataholder_set(void *p, int in_data);

void dataholder_set(void *p, int in_data)
{
	if (in_data)
		dataholder_data = p;
	else
		dataholder_bss = p;
}

#ifndef GS_BANNED_H
#define GS_BANNED_H
/*
 * Functions that overflow buffers or run shell strings. Included into every
 * translation unit by the Makefile, after the system headers have been read
 * (the macros only bite on uses, not on declarations already seen).
 */
#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef system
#define system(x) BANNED(system)
#undef popen
#define popen(x, y) BANNED(popen)
#undef strtok
#define strtok(x, y) BANNED(strtok)

#endif

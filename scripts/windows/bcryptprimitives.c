/* Wine 8.0 lacks bcryptprimitives.dll, from which Rust's standard library (1.78 and later) takes
 * its random bytes (ProcessPrng): without it every Rust program stops at load (c0000135).
 * This stand-in answers through BCryptGenRandom, which Wine has. Test prefixes only: on
 * Windows 10 and later the real DLL is part of the system. */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}

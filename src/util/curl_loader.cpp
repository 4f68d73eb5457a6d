// libcurl, loaded on first use. Most kiln commands never talk to a registry, yet a
// binary linked against libcurl pays at every start for loading and relocating it and
// the thirty-odd libraries it pulls in (most of a short command's start-up time). kiln
// therefore compiles against libcurl's headers only, and this file defines the few
// libcurl entry points kiln calls: each finds the real one in libcurl.so.4, opened
// with dlopen(3) the first time any of them runs, and forwards to it.
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <string>

#include "util/error.hpp"

namespace {

constexpr const char* kLibcurl = "libcurl.so.4";

void* libcurl() {
  static void* const handle = [] {
    void* h = ::dlopen(kLibcurl, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* why = ::dlerror();
      kiln::fail(kiln::ErrorKind::generic, "load {} (needed to reach a registry; install libcurl4): {}", kLibcurl,
                 why ? why : "unknown error");
    }
    return h;
  }();
  return handle;
}

// The entry point `name` of libcurl, as a pointer of type F.
template <typename F>
F entry(const char* name) {
  void* symbol = ::dlsym(libcurl(), name);
  if (!symbol) kiln::fail(kiln::ErrorKind::generic, "{} has no {}", kLibcurl, name);
  return reinterpret_cast<F>(symbol);
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
  static const auto real = entry<CURLcode (*)(long)>("curl_global_init");
  return real(flags);
}

CURL* curl_easy_init(void) {
  static const auto real = entry<CURL* (*)()>("curl_easy_init");
  return real();
}

void curl_easy_cleanup(CURL* handle) {
  static const auto real = entry<void (*)(CURL*)>("curl_easy_cleanup");
  real(handle);
}

void curl_easy_reset(CURL* handle) {
  static const auto real = entry<void (*)(CURL*)>("curl_easy_reset");
  real(handle);
}

CURLcode curl_easy_perform(CURL* handle) {
  static const auto real = entry<CURLcode (*)(CURL*)>("curl_easy_perform");
  return real(handle);
}

const char* curl_easy_strerror(CURLcode code) {
  static const auto real = entry<const char* (*)(CURLcode)>("curl_easy_strerror");
  return real(code);
}

struct curl_slist* curl_slist_append(struct curl_slist* list, const char* text) {
  static const auto real = entry<struct curl_slist* (*)(struct curl_slist*, const char*)>("curl_slist_append");
  return real(list, text);
}

void curl_slist_free_all(struct curl_slist* list) {
  static const auto real = entry<void (*)(struct curl_slist*)>("curl_slist_free_all");
  real(list);
}

curl_version_info_data* curl_version_info(CURLversion version) {
  static const auto real = entry<curl_version_info_data* (*)(CURLversion)>("curl_version_info");
  return real(version);
}

// Every option takes one argument whose type its number tells: a long below
// CURLOPTTYPE_OBJECTPOINT, a pointer (object or function) up to CURLOPTTYPE_OFF_T, a
// curl_off_t up to CURLOPTTYPE_BLOB, a pointer from there on.
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
  static const auto real = entry<CURLcode (*)(CURL*, CURLoption, ...)>("curl_easy_setopt");
  va_list args;
  va_start(args, option);
  CURLcode code;
  if (option < CURLOPTTYPE_OBJECTPOINT) {
    code = real(handle, option, va_arg(args, long));
  } else if (option < CURLOPTTYPE_OFF_T) {
    code = real(handle, option, va_arg(args, void*));
  } else if (option < CURLOPTTYPE_BLOB) {
    code = real(handle, option, va_arg(args, curl_off_t));
  } else {
    code = real(handle, option, va_arg(args, void*));
  }
  va_end(args);
  return code;
}

// Every CURLINFO_* takes one pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
  static const auto real = entry<CURLcode (*)(CURL*, CURLINFO, ...)>("curl_easy_getinfo");
  va_list args;
  va_start(args, info);
  CURLcode code = real(handle, info, va_arg(args, void*));
  va_end(args);
  return code;
}

}  // extern "C"

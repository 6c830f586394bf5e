/* err.c — lookups in the error table of err.h. */
#include "core/err.h"

#define IG_ERR_CASE_NAME(name, code, status, ecode, msg)                                                     \
    case IG_##name:                                                                                          \
        return #name;
#define IG_ERR_CASE_MSG(name, code, status, ecode, msg)                                                      \
    case IG_##name:                                                                                          \
        return msg;
#define IG_ERR_CASE_CODE(name, code, status, ecode, msg)                                                     \
    case IG_##name:                                                                                          \
        return ecode;
#define IG_ERR_CASE_STATUS(name, code, status, ecode, msg)                                                   \
    case IG_##name:                                                                                          \
        return status;

const char *ig_err_name(int err)
{
    switch (err) {
    case IG_OK:
        return "OK";
        IG_ERR_MAP(IG_ERR_CASE_NAME)
    }
    return "EUNKNOWN";
}

const char *ig_err_message(int err)
{
    switch (err) {
    case IG_OK:
        return "ok";
        IG_ERR_MAP(IG_ERR_CASE_MSG)
    }
    return "internal error";
}

const char *ig_err_code(int err)
{
    switch (err) {
    case IG_OK:
        return "ok";
        IG_ERR_MAP(IG_ERR_CASE_CODE)
    }
    return "internal_error";
}

int ig_err_status(int err)
{
    switch (err) {
    case IG_OK:
        return 200;
        IG_ERR_MAP(IG_ERR_CASE_STATUS)
    }
    return 500;
}

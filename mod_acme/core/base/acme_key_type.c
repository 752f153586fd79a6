/* Key type names (AcmeKeyType, store names such as example.org+rsa-2048). */
#include <strings.h>
#include "acme_key_type.h"

/* Indexed by acme_key_type_e. */
static const char *const key_type_names[] = {
    "ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096"
};
#define KEY_TYPE_COUNT (sizeof(key_type_names) / sizeof(key_type_names[0]))

const char *acme_key_type_name(acme_key_type_e type)
{
    return (unsigned)type < KEY_TYPE_COUNT ? key_type_names[type] : "unknown";
}

apr_status_t acme_key_type_parse(const char *name, acme_key_type_e *type)
{
    unsigned i;
    for (i = 0; name && i < KEY_TYPE_COUNT; ++i) {
        if (strcasecmp(name, key_type_names[i]) == 0) {
            *type = (acme_key_type_e)i;
            return APR_SUCCESS;
        }
    }
    return APR_EINVAL;
}

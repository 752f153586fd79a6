/* A value read from the cluster's Redis (outside input: anyone who can write
 * to Redis can plant one): acme_cluster_open unseals it for one key name, as
 * acme_redis_fetch does. The input is also sealed and must open to itself
 * under its own name, and not under another. */
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include "fuzz.h"
#include "acme_cluster.h"

static acme_cluster_t *cluster;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[64];
    const char *why;
    FILE *f;
    int fd;

    fuzz_init();
    snprintf(path, sizeof(path), "%s/acme-fuzz-cluster-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    /* a fixed key, so that found inputs replay */
    if ((fd = mkstemp(path)) < 0 || fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "wb"))
        || fwrite("0123456789abcdef0123456789abcdef", 1, ACME_CLUSTER_KEY_LEN, f)
           != ACME_CLUSTER_KEY_LEN
        || fclose(f) != 0
        || acme_cluster_create(&cluster, fuzz_root, "redis://127.0.0.1:6379", path, NULL,
                               "fuzz", &why) != APR_SUCCESS) {
        abort();
    }
    unlink(path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    const char *why = NULL;
    char *plain, *sealed;
    apr_size_t len, sealed_len;

    if (acme_cluster_open(cluster, p, "acme:live:example.test", (const char *)data, size,
                          &plain, &len, &why) == APR_SUCCESS) {
        if (len + ACME_CLUSTER_SEAL_OVERHEAD != size) abort();
    }
    else {
        fuzz_touch(why);
    }
    if (size <= ACME_CLUSTER_VALUE_MAX
        && acme_cluster_seal(cluster, p, "acme:live:example.test", data, size, &sealed,
                             &sealed_len) == APR_SUCCESS) {
        if (acme_cluster_open(cluster, p, "acme:live:example.test", sealed, sealed_len, &plain,
                              &len, NULL) != APR_SUCCESS
            || len != size || (size && memcmp(plain, data, size))
            || acme_cluster_open(cluster, p, "acme:live:example.tesu", sealed, sealed_len,
                                 &plain, &len, NULL) == APR_SUCCESS) {
            abort();
        }
    }
    apr_pool_destroy(p);
    return 0;
}

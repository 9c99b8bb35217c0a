/* Empty handlers, so the router's table links without the handlers (test_router, the request
 * fuzzer): what is tested is which route a request reaches, not what the route does. */
#include "handlers.h"

#define STUB(name) \
    HANDLER(name) { (void)x, (void)h, (void)c, (void)m; }

STUB(status_health)
STUB(status_metrics)
STUB(status_config)
STUB(upload_post)
STUB(upload_put)
STUB(upload_reserve)
STUB(share_get)
STUB(download_get)
STUB(delete_drop)
STUB(thumbnail_get)
STUB(direct_create)
STUB(direct_complete)
STUB(direct_cancel)
STUB(uppy_params)
STUB(uppy_create)
STUB(uppy_list_parts)
STUB(uppy_abort)
STUB(uppy_sign_batch)
STUB(uppy_complete)
STUB(uppy_sign_part)

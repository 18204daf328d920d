/*
 * osc_rsm_request.c - the requests of MPI_Rput, MPI_Rget, MPI_Raccumulate
 * and MPI_Rget_accumulate.
 *
 * The operation is complete (at the target, and the origin buffers are
 * free) before the request is even created, so the request is born
 * complete: MPI_Wait/MPI_Test find it done and call req_free, which
 * releases it. It is a plain ompi_request_t of type OMPI_REQUEST_WIN,
 * marked ACTIVE and then completed with ompi_request_complete as the other
 * osc components do, so MPI_Waitall / MPI_Testany mixes work too.
 */
#include "ompi_config.h"

#include "osc_rsm.h"

typedef struct ompi_osc_rsm_request {
    ompi_request_t super;
} ompi_osc_rsm_request_t;

static int request_free(struct ompi_request_t **request)
{
    ompi_request_t *req = *request;

    if (!REQUEST_COMPLETE(req)) {
        return MPI_ERR_REQUEST;
    }
    OMPI_REQUEST_FINI(req);
    OBJ_RELEASE(req);
    *request = MPI_REQUEST_NULL;
    return OMPI_SUCCESS;
}

static int request_cancel(struct ompi_request_t *request, int complete)
{
    return MPI_ERR_REQUEST;       /* already complete: nothing to cancel */
}

static void request_construct(ompi_osc_rsm_request_t *request)
{
    request->super.req_type              = OMPI_REQUEST_WIN;
    request->super.req_status._cancelled = 0;
    request->super.req_free              = request_free;
    request->super.req_cancel            = request_cancel;
}

OBJ_CLASS_INSTANCE(ompi_osc_rsm_request_t, ompi_request_t, request_construct, NULL);

int ompi_osc_rsm_request_completed(struct ompi_win_t *win, int status,
                                   struct ompi_request_t **request)
{
    ompi_osc_rsm_request_t *req = OBJ_NEW(ompi_osc_rsm_request_t);

    if (req == NULL) {
        return OMPI_ERR_OUT_OF_RESOURCE;
    }
    OMPI_REQUEST_INIT(&req->super, false);
    req->super.req_mpi_object.win        = win;
    req->super.req_state                 = OMPI_REQUEST_ACTIVE;
    req->super.req_status.MPI_SOURCE     = MPI_ANY_SOURCE;
    req->super.req_status.MPI_TAG        = MPI_ANY_TAG;
    req->super.req_status.MPI_ERROR      = status;
    req->super.req_status._ucount        = 0;
    ompi_request_complete(&req->super, true);
    *request = &req->super;
    return OMPI_SUCCESS;
}

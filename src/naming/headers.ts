/**
 * HTTP headers shared by the gateway, the Gateway API routes tandem writes and its clients.
 * Header names are case-insensitive; these are the spellings tandem sends. Pure.
 */

/** A caller pins a version with this request header (gateway and Gateway API HTTPRoute match). */
export const VERSION_HEADER = 'X-Model-Version';

/** The gateway answers with the version that served the request. */
export const SERVED_BY_HEADER = 'X-Served-By-Version';

/** A mirrored copy of a request carries this header, naming the version that answered the caller. */
export const MIRROR_OF_HEADER = 'X-Tandem-Mirror-Of';

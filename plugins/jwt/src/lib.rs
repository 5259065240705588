//! bucketgate plugin: JWT bearer-token authentication.

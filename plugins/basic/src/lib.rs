//! bucketgate plugin: HTTP Basic authentication from htpasswd (bcrypt) or config.

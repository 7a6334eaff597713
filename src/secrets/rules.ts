// What every part of bramble agrees on about secrets in Git, without loading
// the cryptography (render needs these names, not the ciphers).

/** What bramble encrypts in a Kubernetes object: the values under data and stringData, never its kind or name. */
export const ENCRYPTED_REGEX = '^(data|stringData)$';
/** The secret in flux-system holding a cluster's age identity; Flux reads keys whose names end in .agekey. */
export const SOPS_AGE_SECRET = 'sops-age';
export const SOPS_AGE_KEY = 'identity.agekey';

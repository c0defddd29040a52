// `npm run api` sets FUDBUDDY_DEV=1: on a loopback address, and only then, a missing API_TOKENS falls back to this
// well-known local token so `npm run stub` + `npm run api` work out of the box. The deployed unit never sets it.
export const DEV_TOKEN = 'fudbuddy-local-dev-token';

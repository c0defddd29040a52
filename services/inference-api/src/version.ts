// Reported in /healthz and fudbuddy_api_build_info; bump with releases.
export const VERSION = '0.1.0';

// scripts/build.mjs bundles prompts/*.md with esbuild's text loader.
declare module '*.md' {
  const text: string;
  export default text;
}

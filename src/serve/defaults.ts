/** Defaults of `tandem serve`, defined once for the CLI's help, the server and the README. */
export const ServeDefaults = {
  host: '127.0.0.1',
  port: 7080,
  /** larger request bodies are refused with 413 before they are parsed */
  bodyLimit: 64 * 1024,
} as const;

/** The prefix shared by a binary's flag env vars (EXTERNAL_DNS_SOURCE, EXTERNAL_DNS_PROVIDER -> EXTERNAL_DNS_), cut at an underscore. */
export function commonEnvPrefix(values: string[]): string | undefined {
  if (values.length < 2) return undefined;
  let prefix = values[0]!;
  for (const value of values) while (!value.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = prefix.lastIndexOf('_');
  return cut > 0 ? prefix.slice(0, cut + 1) : undefined;
}

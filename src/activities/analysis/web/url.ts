/**
 * A web metric's URL from its template in tandem.yaml. Pure.
 */
import { WEB_METRIC_PLACEHOLDERS } from '../../../model-spec/schema';

export type WebUrlVars = Record<(typeof WEB_METRIC_PLACEHOLDERS)[number], string>;

/**
 * The template with `{model}`, `{version}` and `{environment}` replaced by their values,
 * URL-encoded (a tag such as `v1.2.0+rc/1` stays one path segment). Other text is left as it is:
 * the spec schema refuses unknown placeholders before a release starts.
 */
export function renderWebUrl(template: string, vars: WebUrlVars): string {
  return template.replace(/\{(model|version|environment)\}/g, (_, name: keyof WebUrlVars) => encodeURIComponent(vars[name]));
}

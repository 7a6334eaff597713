// The inventory schema's building blocks: strings of a checked format and
// objects closed to unknown keys, shared by every part of the schema.
import { Type, type TSchema } from '@sinclair/typebox';

export const closed = { additionalProperties: false } as const;

// Custom formats are registered with ajv in load.ts; each has a readable
// description there, used in error messages.
export const Ipv4 = Type.String({ format: 'ipv4', description: 'IPv4 address, e.g. 192.168.100.10' });
export const Cidr = Type.String({ format: 'cidr', description: 'IPv4 network in CIDR form, e.g. 192.168.100.0/24' });
export const DnsLabel = Type.String({ format: 'dns-label', description: 'lower-case DNS label: a-z, 0-9 and "-", at most 63 characters' });
export const SemVer = Type.String({ format: 'semver', description: 'exact version, e.g. 1.12.1' });
export const K3sVersion = Type.String({ format: 'k3s-version', description: 'k3s release, e.g. v1.35.6+k3s1' });
export const Duration = Type.String({ format: 'prom-duration', description: 'Prometheus duration, e.g. 7d or 12h' });
export const Quantity = Type.String({ format: 'quantity', description: 'Kubernetes quantity, e.g. 10Gi or 512Mi' });
export const CpuQuantity = Type.String({ format: 'cpu-quantity', description: 'CPU quantity, e.g. 250m or 1' });

export function withDefault<T extends TSchema>(schema: T, value: unknown): T {
  return { ...schema, default: value };
}

// Each broken inventory must fail with exactly one expected, located line:
// file, line, column, field path and the reason, never a stack trace. Every
// case is checked twice: with the schema compiled from the sources (as the
// tests run) and with the built, precompiled validator (as users run it).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { parseInventory } from '../src/inventory/load.ts';
import { InventoryError, formatProblem } from '../src/inventory/problems.ts';
import { ROOT } from './helpers.ts';

const built = (await import(pathToFileURL(join(ROOT, 'dist', 'src', 'inventory', 'load.js')).href)) as { parseInventory: typeof parseInventory };

const BASE = `apiVersion: bramble/v1alpha1
site:
  name: lab
  k3s:
    version: v1.35.6+k3s1
vlans:
  - id: 100
    name: Servers
    subnet: 192.168.100.0/24
    gateway: 192.168.100.1
    dhcp: { start: 192.168.100.150, end: 192.168.100.254 }
    internet: true
  - id: 30
    name: Clients
    subnet: 192.168.30.0/24
    gateway: 192.168.30.1
    internet: true
nas:
  name: nas
  address: 192.168.100.20
  vlan: 100
  nfs:
    exports:
      - path: /k8s
        storageClass: nfs-shared
git:
  url: ssh://git@example.invalid/lab/gitops.git
clusters:
  - name: prod
    vlan: 100
    nodes:
      - name: a
        hardware: rk1
        address: 192.168.100.11
        role: server
      - name: b
        hardware: rk1
        address: 192.168.100.12
        role: server
      - name: c
        hardware: rk1
        address: 192.168.100.13
        role: server
`;

/** BASE with one unique piece of text replaced. */
function mutate(from: string, to: string): string {
  assert.equal(BASE.split(from).length, 2, `"${from}" must occur exactly once in BASE`);
  return BASE.replace(from, to);
}

function errorsWith(parse: typeof parseInventory, text: string): string[] {
  try {
    parse(text, 'bad.yaml');
  } catch (e) {
    // The built module has its own class of the same name.
    assert.ok(e instanceof Error && e.name === 'InventoryError' && 'problems' in e, `expected an InventoryError, got ${(e as Error).stack}`);
    return (e as InventoryError).problems.map(formatProblem);
  }
  return [];
}

/** The problems, the same from the sources' validator and the built one. */
function errorsOf(text: string): string[] {
  const fromSources = errorsWith(parseInventory, text);
  assert.deepEqual(errorsWith(built.parseInventory, text), fromSources, 'the built validator says the same');
  return fromSources;
}

const CASES: Array<[string, string, string]> = [
  ['tab indentation', mutate('  name: lab\n', '\tname: lab\n'),
    'bad.yaml:3:1: (top level): invalid YAML: Tabs are not allowed as indentation'],
  ['duplicate key', mutate('    role: server\n      - name: c', '    role: server\n        role: agent\n      - name: c'),
    'bad.yaml:40:9: clusters[0].nodes[1].role: invalid YAML: Map keys must be unique'],
  ['wrong type: VLAN id as text', mutate('  - id: 30\n', '  - id: thirty\n'),
    'bad.yaml:13:9: vlans[1].id: must be a whole number, got "thirty"'],
  ['wrong type: internet not boolean', mutate('    internet: true\n  - id: 30', '    internet: sometimes\n  - id: 30'),
    'bad.yaml:12:15: vlans[0].internet: must be true or false, got "sometimes"'],
  ['unknown field', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    nodez: []\n    nodes:'),
    'bad.yaml:31:5: clusters[0].nodez: unknown field "nodez"; expected one of: name, environment, vlan, apiEndpoint, ingressAddress, jumpHost, datastore, k3s, nodes, platform, osUpdates, tunnel, secrets, backup, notifications'],
  ['missing required field', mutate('git:\n  url: ssh://git@example.invalid/lab/gitops.git\n', ''),
    'bad.yaml:1:1: git: required field is missing'],
  ['unknown hardware profile', mutate('    hardware: rk1\n        address: 192.168.100.12', '    hardware: pi4\n        address: 192.168.100.12'),
    'bad.yaml:37:19: clusters[0].nodes[1].hardware: must be one of pi5, rk1, x86; got "pi4"'],
  ['unknown role', mutate('    role: server\n      - name: b', '    role: master\n      - name: b'),
    'bad.yaml:35:15: clusters[0].nodes[0].role: must be one of server, agent; got "master"'],
  ['malformed address', mutate('address: 192.168.100.13', 'address: 192.168.100.300'),
    'bad.yaml:42:18: clusters[0].nodes[2].address: expected an IPv4 address such as 192.168.100.10, got "192.168.100.300"'],
  ['malformed CIDR', mutate('subnet: 192.168.30.0/24', 'subnet: 192.168.30.0/33'),
    'bad.yaml:15:13: vlans[1].subnet: expected an IPv4 network in CIDR form such as 192.168.100.0/24, got "192.168.30.0/33"'],
  ['malformed k3s version', mutate('version: v1.35.6+k3s1', 'version: 1.35'),
    'bad.yaml:5:14: site.k3s.version: expected a k3s release such as v1.35.6+k3s1, got 1.35'],
  ['malformed git URL', mutate('url: ssh://git@example.invalid/lab/gitops.git', 'url: "not a url"'),
    'bad.yaml:27:8: git.url: expected a Git URL (ssh://, https://, file://, user@host:path or a path), got "not a url"'],
  ['an https URL on a plain Git host: Flux reads with an SSH deploy key', mutate('url: ssh://git@example.invalid/lab/gitops.git', 'url: https://git.example.invalid:3000/lab/gitops.git'),
    'bad.yaml:27:8: git.url: Flux reads the repository with an SSH deploy key, so git.url must be an SSH URL: use ssh://git@git.example.invalid/lab/gitops.git (with :PORT after the host when its SSH server is not on 22), or git@git.example.invalid:lab/gitops.git'],
  ['a local path as git.url', mutate('url: ssh://git@example.invalid/lab/gitops.git', 'url: /srv/git/gitops.git'),
    "bad.yaml:27:8: git.url: /srv/git/gitops.git is a local path; Flux on the cluster cannot read it: use the SSH URL of the repository's server, e.g. ssh://git@HOST/OWNER/REPO.git"],
  ['a file:// URL as git.url', mutate('url: ssh://git@example.invalid/lab/gitops.git', 'url: file:///srv/git/gitops.git'),
    "bad.yaml:27:8: git.url: file:///srv/git/gitops.git is a local path; Flux on the cluster cannot read it: use the SSH URL of the repository's server, e.g. ssh://git@HOST/OWNER/REPO.git"],
  ['malformed chart version', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    platform:\n      longhorn: { version: latest }\n    nodes:'),
    'bad.yaml:32:28: clusters[0].platform.longhorn.version: expected an exact version such as 1.12.1, got "latest"'],
  ['duplicate cluster name', BASE + '  - name: prod\n    vlan: 100\n    nodes:\n      - { name: d, hardware: pi5, address: 192.168.100.30, role: server }\n',
    'bad.yaml:44:11: clusters[1].name: cluster name "prod" is used twice'],
  ['duplicate node name', mutate('- name: c', '- name: a'),
    'bad.yaml:40:15: clusters[0].nodes[2].name: node name "a" is already used in cluster prod; k3s needs unique hostnames'],
  ['duplicate address', mutate('address: 192.168.100.13', 'address: 192.168.100.11'),
    'bad.yaml:42:18: clusters[0].nodes[2].address: address 192.168.100.11 is already used by node a'],
  ['API address inside the DHCP pool', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    apiEndpoint: 192.168.100.200\n    nodes:'),
    'bad.yaml:31:18: clusters[0].apiEndpoint: 192.168.100.200 is inside the DHCP pool of VLAN 100 (Servers) 192.168.100.150-192.168.100.254; use a static address outside it'],
  ['API address used by the NAS', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    apiEndpoint: 192.168.100.20\n    nodes:'),
    'bad.yaml:31:18: clusters[0].apiEndpoint: address 192.168.100.20 is already used by the NAS'],
  ['address outside the cluster VLAN', mutate('address: 192.168.100.12', 'address: 192.168.30.12'),
    'bad.yaml:38:18: clusters[0].nodes[1].address: 192.168.30.12 is outside VLAN 100 (Servers) subnet 192.168.100.0/24'],
  ['address inside the DHCP pool', mutate('address: 192.168.100.12', 'address: 192.168.100.160'),
    'bad.yaml:38:18: clusters[0].nodes[1].address: 192.168.100.160 is inside the DHCP pool of VLAN 100 (Servers) 192.168.100.150-192.168.100.254; use a static address outside it'],
  ['two servers', mutate('address: 192.168.100.13\n        role: server', 'address: 192.168.100.13\n        role: agent'),
    'bad.yaml:32:7: clusters[0].nodes: cluster "prod" has 2 servers: embedded etcd loses quorum when either is down; use 1 or 3'],
  ['no server left once planned nodes are set aside', mutate('    role: server\n      - name: b', '    role: agent\n      - name: b').replace(/role: server/g, 'role: server\n        planned: true'),
    'bad.yaml:32:7: clusters[0].nodes: cluster "prod" has no server to install (planned nodes do not count)'],
  ['NAS on a VLAN the cluster is not on', mutate('  vlan: 100\n  nfs:', '  vlan: 30\n  nfs:').replace('address: 192.168.100.20', 'address: 192.168.30.20'),
    'bad.yaml:30:11: clusters[0].vlan: cluster "prod" is on VLAN 100 but the NAS is on VLAN 30: NFS traffic would cross the router; put them on one VLAN or set platform.nfs.exports: []'],
  ['k3s too old for Flux 2.9', mutate('version: v1.35.6+k3s1', 'version: v1.33.4+k3s1'),
    'bad.yaml:5:14: site.k3s.version: k3s v1.33.4+k3s1 runs Kubernetes 1.33.4, but Flux 2.9.5 needs Kubernetes 1.34.1 or newer (cluster "prod")'],
  ['Flux release bramble does not render', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    platform:\n      flux: { version: 2.4.0 }\n    nodes:'),
    'bad.yaml:32:24: clusters[0].platform.flux.version: Flux 2.4.0 is not a release bramble renders; supported: 2.9.x'],
  ['more Longhorn replicas than nodes', mutate('    vlan: 100\n    nodes:', '    vlan: 100\n    platform:\n      longhorn: { replicas: 5 }\n    nodes:'),
    'bad.yaml:32:29: clusters[0].platform.longhorn.replicas: 5 Longhorn replicas need 5 nodes; cluster "prod" has 3 to install, so volumes would stay degraded'],
  ['cluster on an unknown VLAN', mutate('    vlan: 100\n    nodes:', '    vlan: 99\n    nodes:'),
    'bad.yaml:30:11: clusters[0].vlan: no VLAN with id 99; known: 100, 30'],
  ['gateway outside its subnet', mutate('gateway: 192.168.30.1', 'gateway: 192.168.31.1'),
    'bad.yaml:16:14: vlans[1].gateway: gateway 192.168.31.1 is outside the VLAN\'s subnet 192.168.30.0/24'],
  ['overlapping VLAN subnets', mutate('subnet: 192.168.30.0/24', 'subnet: 192.168.0.0/16').replace('gateway: 192.168.30.1', 'gateway: 192.168.0.1'),
    'bad.yaml:15:13: vlans[1].subnet: 192.168.0.0/16 overlaps VLAN 100\'s subnet 192.168.100.0/24'],
  ['bad taint', mutate('    role: server\n      - name: c', '    role: server\n        taints: [gpu]\n      - name: c'),
    'bad.yaml:40:18: clusters[0].nodes[1].taints[0]: expected a taint such as dedicated=gpu:NoSchedule (effect NoSchedule, PreferNoSchedule or NoExecute), got "gpu"'],
  ['bad label key', mutate('    role: server\n      - name: c', '    role: server\n        labels: { "bad key!": x }\n      - name: c'),
    'bad.yaml:40:19: clusters[0].nodes[1].labels."bad key!": "bad key!" is not a valid Kubernetes label key'],
  ['NFS export path with a newline (template injection)', mutate('path: /k8s', 'path: "/k8s\\nkind: Secret"'),
    'bad.yaml:24:15: nas.nfs.exports[0].path: contains a line feed; inventory values are one line of plain text'],
  ['not a mapping at all', '- just\n- a list\n',
    'bad.yaml:1:1: (top level): the inventory must be a mapping with apiVersion, site, vlans, git and clusters; got a list'],
  ['wrong apiVersion', mutate('apiVersion: bramble/v1alpha1', 'apiVersion: bramble/v2'),
    'bad.yaml:1:13: apiVersion: must be "bramble/v1alpha1", got "bramble/v2"'],
];

test('the base inventory of this table is valid', () => {
  assert.deepEqual(errorsOf(BASE), []);
});

for (const [name, text, expected] of CASES) {
  test(`bad inventory: ${name}`, () => {
    assert.deepEqual(errorsOf(text), [expected]);
  });
}

test('several problems are all reported, in file order', () => {
  const text = mutate('address: 192.168.100.12', 'address: 192.168.100.160').replace('- id: 30', '- id: 100');
  const errors = errorsOf(text);
  assert.equal(errors.length, 2);
  assert.match(errors[0]!, /^bad\.yaml:13:9: vlans\[1\]\.id: VLAN id 100 is used twice$/);
  assert.match(errors[1]!, /^bad\.yaml:38:18: clusters\[0\]\.nodes\[1\]\.address: .* inside the DHCP pool/);
});

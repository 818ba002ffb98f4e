import {
  Badge,
  Button,
  Card,
  Code,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Tabs,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { diffLines } from 'diff';
import { useEffect, useMemo, useState } from 'react';
import { gql } from '../api';
import { graphql } from '../gql';
import type { ProfileLayerScope } from '../gql/graphql';
import { Can, Empty, ErrorNote, formatTime, Loading, PageTitle, useAction, useLoad, useSession } from '../ui';
import { roleAtLeast } from '../api';

const ProfilesQuery = graphql(`
  query Profiles {
    profiles {
      id
      name
      version
      createdAt
      createdBy
      documentJson
      resolvedJson
    }
    clients {
      id
      name
      sites {
        id
        code
      }
    }
  }
`);

const Validate = graphql(`
  query ValidateProfile($documentJson: String!) {
    validateProfile(documentJson: $documentJson) {
      path
      message
      code
    }
  }
`);

const Save = graphql(`
  mutation SaveProfile($name: String!, $documentJson: String!) {
    saveProfile(name: $name, documentJson: $documentJson) {
      id
      version
    }
  }
`);

const SetLayer = graphql(`
  mutation SetProfileLayer($scope: ProfileLayerScope!, $id: ID, $documentJson: String!) {
    setProfileLayer(scope: $scope, id: $id, documentJson: $documentJson)
  }
`);

const pretty = (json: string) => {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
};

/** Profiles: versions, an editor validated as you type (errors at their path), layers, diffs. */
export function ProfilesPage() {
  const { data, error, loading, reload } = useLoad(() => gql(ProfilesQuery));
  const [tab, setTab] = useState<string | null>('editor');
  if (loading && !data) return <Loading label="Loading profiles" />;
  if (!data) return <ErrorNote error={error} />;
  return (
    <>
      <PageTitle>Profiles</PageTitle>
      <ErrorNote error={error} />
      <Tabs value={tab} onChange={setTab}>
        <Tabs.List mb="md">
          <Tabs.Tab value="editor">Editor</Tabs.Tab>
          <Tabs.Tab value="layers">Layers</Tabs.Tab>
          <Tabs.Tab value="diff">Compare versions</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="editor">
          <Editor profiles={data.profiles} onSaved={reload} />
        </Tabs.Panel>
        <Tabs.Panel value="layers">
          <Layers clients={data.clients} />
        </Tabs.Panel>
        <Tabs.Panel value="diff">
          <Diff profiles={data.profiles} />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}

type ProfileRow = {
  id: string;
  name: string;
  version: number;
  createdAt: string;
  createdBy: string;
  documentJson: string;
  resolvedJson: string;
};

/** Validation errors next to the editor, each with its path; the line of the path's key is named. */
function useValidation(text: string) {
  const [errors, setErrors] = useState<{ path: string; message: string; code?: string | null }[] | null>(
    null,
  );
  const [failure, setFailure] = useState<unknown>(null);
  useEffect(() => {
    const timer = setTimeout(() => {
      try {
        JSON.parse(text);
      } catch (e) {
        setErrors([{ path: '(document)', message: `not valid JSON: ${(e as Error).message}` }]);
        return;
      }
      gql(Validate, { documentJson: text }).then((r) => {
        setErrors(r.validateProfile);
        setFailure(null);
      }, setFailure);
    }, 400);
    return () => clearTimeout(timer);
  }, [text]);
  return { errors, failure };
}

function lineOf(text: string, path: string): number | null {
  const key = path
    .split('.')
    .filter((p) => !/^\d+$/.test(p))
    .at(-1);
  if (!key) return null;
  const i = text.split('\n').findIndex((l) => l.includes(`"${key}"`));
  return i >= 0 ? i + 1 : null;
}

function Editor({ profiles, onSaved }: { profiles: ProfileRow[]; onSaved: () => Promise<void> }) {
  const canEdit = roleAtLeast(useSession().role, 'engineer');
  const [baseId, setBaseId] = useState<string | null>(profiles[0]?.id ?? null);
  const base = profiles.find((p) => p.id === baseId);
  const [name, setName] = useState(base?.name ?? 'Standard');
  const [text, setText] = useState(pretty(base?.documentJson ?? '{}'));
  useEffect(() => {
    if (!base) return;
    setName(base.name);
    setText(pretty(base.documentJson));
  }, [base]);
  const { errors, failure } = useValidation(text);
  const [saved, setSaved] = useState<number | null>(null);
  const save = useAction(async () => {
    const r = await gql(Save, { name, documentJson: text });
    setSaved(r.saveProfile.version);
    await onSaved();
  });
  const effective = base ? pretty(base.resolvedJson) : '';
  return (
    <SimpleGrid cols={2}>
      <Stack>
        <Group align="flex-end">
          <Select
            label="Start from version"
            data={profiles.map((p) => ({
              value: p.id,
              label: `${p.name} v${p.version} — ${formatTime(p.createdAt)} by ${p.createdBy}`,
            }))}
            value={baseId}
            onChange={setBaseId}
            w={380}
            placeholder={profiles.length ? 'Pick one' : 'None saved yet'}
          />
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            readOnly={!canEdit}
          />
        </Group>
        <Textarea
          label="Document (JSON, a layer over the built-in Standard profile)"
          value={text}
          onChange={(e) => setText(e.currentTarget.value)}
          autosize
          minRows={18}
          maxRows={30}
          readOnly={!canEdit}
          styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
          error={errors?.length ? `${errors.length} problem(s), listed below` : undefined}
        />
        <ErrorNote error={failure ?? save.error} />
        {errors && errors.length > 0 && (
          <Card withBorder data-testid="profile-errors">
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Field</Table.Th>
                  <Table.Th>Line</Table.Th>
                  <Table.Th>Problem</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {errors.map((e) => (
                  <Table.Tr key={e.path + e.message}>
                    <Table.Td>
                      <Code>{e.path}</Code>
                    </Table.Td>
                    <Table.Td>{lineOf(text, e.path) ?? '—'}</Table.Td>
                    <Table.Td>
                      {e.message}
                      {e.code ? (
                        <>
                          {' '}
                          <Code>{e.code}</Code>
                        </>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Card>
        )}
        {errors && errors.length === 0 && (
          <Badge color="green" role="status">
            Valid
          </Badge>
        )}
        <Can role="engineer">
          <Group>
            <Button
              loading={save.busy}
              disabled={!errors || errors.length > 0 || !name.trim()}
              onClick={() => void save.run()}
            >
              Save as a new version
            </Button>
            {saved !== null && (
              <Text c="green.9" role="status">
                Saved as v{saved}.
              </Text>
            )}
          </Group>
        </Can>
      </Stack>
      <Card withBorder>
        <Title order={2} size="h5" mb="xs">
          Effective result of the selected version (merged over Standard)
        </Title>
        {base ? (
          <Code block tabIndex={0} style={{ maxHeight: 640, overflow: 'auto' }}>
            {effective}
          </Code>
        ) : (
          <Empty title="No version saved">
            Write a document on the left and save it; its merged result shows here.
          </Empty>
        )}
      </Card>
    </SimpleGrid>
  );
}

function Layers({
  clients,
}: {
  clients: { id: string; name: string; sites: { id: string; code: string }[] }[];
}) {
  const [scope, setScope] = useState<ProfileLayerScope>('TENANT');
  const [id, setId] = useState<string | null>(null);
  const [text, setText] = useState('{}');
  const { errors } = useValidation(text);
  const [done, setDone] = useState(false);
  const set = useAction(async () => {
    setDone(false);
    await gql(SetLayer, { scope, id: scope === 'TENANT' ? undefined : id, documentJson: text });
    setDone(true);
  });
  const targets =
    scope === 'CLIENT'
      ? clients.map((c) => ({ value: c.id, label: c.name }))
      : scope === 'SITE'
        ? clients.flatMap((c) => c.sites.map((s) => ({ value: s.id, label: `${c.name} / ${s.code}` })))
        : [];
  return (
    <Stack maw={900}>
      <Text size="sm">
        Layers override the profile for the whole tenant, a client, a site or one machine; the effective
        profile of a machine is Standard, then the profile version, then tenant, client, site and machine
        layers in that order.
      </Text>
      <Group align="flex-end">
        <Select
          label="Layer"
          data={['TENANT', 'CLIENT', 'SITE', 'MACHINE']}
          value={scope}
          onChange={(v) => {
            setScope((v as ProfileLayerScope) ?? 'TENANT');
            setId(null);
          }}
          w={160}
        />
        {scope === 'MACHINE' ? (
          <TextInput
            label="Machine id"
            value={id ?? ''}
            onChange={(e) => setId(e.currentTarget.value)}
            w={360}
          />
        ) : scope !== 'TENANT' ? (
          <Select
            label={scope === 'CLIENT' ? 'Client' : 'Site'}
            data={targets}
            value={id}
            onChange={setId}
            searchable
            w={360}
          />
        ) : null}
      </Group>
      <Textarea
        label="Layer document (JSON)"
        value={text}
        onChange={(e) => setText(e.currentTarget.value)}
        autosize
        minRows={8}
        styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
        error={errors?.length ? errors.map((e) => `${e.path}: ${e.message}`).join('; ') : undefined}
      />
      <ErrorNote error={set.error} />
      <Can role="engineer">
        <Group>
          <Button
            loading={set.busy}
            disabled={!!errors?.length || (scope !== 'TENANT' && !id)}
            onClick={() => void set.run()}
          >
            Set layer
          </Button>
          {done && (
            <Text c="green.9" role="status">
              Layer set; new runs use it.
            </Text>
          )}
        </Group>
      </Can>
    </Stack>
  );
}

function Diff({ profiles }: { profiles: ProfileRow[] }) {
  const [a, setA] = useState<string | null>(profiles[1]?.id ?? null);
  const [b, setB] = useState<string | null>(profiles[0]?.id ?? null);
  const pa = profiles.find((p) => p.id === a);
  const pb = profiles.find((p) => p.id === b);
  const parts = useMemo(
    () => (pa && pb ? diffLines(pretty(pa.documentJson), pretty(pb.documentJson)) : []),
    [pa, pb],
  );
  const options = profiles.map((p) => ({ value: p.id, label: `${p.name} v${p.version}` }));
  if (profiles.length < 2)
    return <Empty title="Only one version">Save another version to compare them.</Empty>;
  return (
    <Stack>
      <Group>
        <Select label="From" data={options} value={a} onChange={setA} w={260} />
        <Select label="To" data={options} value={b} onChange={setB} w={260} />
      </Group>
      <pre
        data-testid="profile-diff"
        style={{ fontSize: 12, border: '1px solid #dee2e6', padding: 8, maxHeight: 600, overflow: 'auto' }}
      >
        {parts.map((p, i) => (
          <span
            key={i}
            style={{ background: p.added ? '#d3f9d8' : p.removed ? '#ffe3e3' : undefined, display: 'block' }}
          >
            {p.value
              .replace(/\n$/, '')
              .split('\n')
              .map((l) => `${p.added ? '+ ' : p.removed ? '- ' : '  '}${l}`)
              .join('\n')}
          </span>
        ))}
      </pre>
    </Stack>
  );
}

// How a long run shows its progress: listr2's live tree at a terminal, plain
// timestamped lines without one, and with --json one JSON object per line for
// programs. The same task tree feeds all three.
import { Listr, ListrTaskEventType, ListrTaskState, PRESET_TIMESTAMP, type ListrTask, type ListrRendererFactory } from 'listr2';

export type ProgressMode = 'tree' | 'lines' | 'json';

export function progressMode(json: boolean | undefined, tty: boolean): ProgressMode {
  return json ? 'json' : tty ? 'tree' : 'lines';
}

/** One event of the --json stream. */
export interface ProgressEvent {
  time: string;
  event: 'start' | 'done' | 'failed' | 'skipped' | 'output' | 'title' | 'plan' | 'summary' | 'error';
  /** The task's place in the tree, by its first titles: ["staging", "k3s", "pi5-01"]. */
  task?: string[];
  title?: string;
  message?: string;
  [more: string]: unknown;
}

type AnyTask = {
  id: string;
  initialTitle?: string;
  title?: string;
  parent?: AnyTask;
  on: (event: ListrTaskEventType, fn: (data: never) => void) => void;
};

function pathOf(task: AnyTask): string[] {
  const out: string[] = [];
  for (let t: AnyTask | undefined = task; t; t = t.parent) out.unshift(t.initialTitle ?? t.title ?? t.id);
  return out;
}

/** One event of the stream, stamped with the time, as one line. */
export function jsonEvent(write: (line: string) => void, e: Omit<ProgressEvent, 'time'>): void {
  write(JSON.stringify({ time: new Date().toISOString(), ...e }));
}

/** Writes one line per event; lines are whole JSON documents. */
export function jsonRendererFor(write: (line: string) => void): ListrRendererFactory {
  const emit = (e: Omit<ProgressEvent, 'time'>) => jsonEvent(write, e);
  class JsonRenderer {
    static nonTTY = true;
    static rendererOptions = {};
    static rendererTaskOptions = {};
    private readonly tasks: AnyTask[];
    constructor(tasks: AnyTask[]) {
      this.tasks = tasks;
    }
    render(): void {
      this.watch(this.tasks);
    }
    end(): void {}
    private watch(tasks: AnyTask[]): void {
      for (const task of tasks) {
        const base = () => ({ task: pathOf(task), title: task.title });
        task.on(ListrTaskEventType.SUBTASK, ((subtasks: AnyTask[]) => this.watch(subtasks)) as (d: never) => void);
        task.on(ListrTaskEventType.STATE, ((state: ListrTaskState) => {
          if (state === ListrTaskState.STARTED) emit({ event: 'start', ...base() });
          else if (state === ListrTaskState.COMPLETED) emit({ event: 'done', ...base() });
        }) as (d: never) => void);
        task.on(ListrTaskEventType.TITLE, ((title: string) => emit({ event: 'title', ...base(), title })) as (d: never) => void);
        task.on(ListrTaskEventType.OUTPUT, ((line: string) => emit({ event: 'output', ...base(), message: line })) as (d: never) => void);
        task.on(ListrTaskEventType.MESSAGE, ((m: { error?: string; skip?: string }) => {
          if (m.error) emit({ event: 'failed', ...base(), message: m.error });
          else if (m.skip) emit({ event: 'skipped', ...base(), message: m.skip });
        }) as (d: never) => void);
      }
    }
  }
  return JsonRenderer as unknown as ListrRendererFactory;
}


/** A task list shown the chosen way. Errors end the run; the caller reports them. */
export function progressList<Ctx extends object>(tasks: ListrTask<Ctx>[], mode: ProgressMode, write: (line: string) => void): Listr<Ctx, any, any> {
  const common = { exitOnError: true, registerSignalListeners: false, collectErrors: false as const };
  if (mode === 'json') return new Listr<Ctx, any, any>(tasks, { ...common, renderer: jsonRendererFor(write), fallbackRenderer: jsonRendererFor(write) });
  if (mode === 'lines') return new Listr<Ctx, any, any>(tasks, { ...common, renderer: 'simple', fallbackRenderer: 'simple', rendererOptions: { timestamp: PRESET_TIMESTAMP } });
  return new Listr<Ctx, any, any>(tasks, {
    ...common,
    renderer: 'default',
    fallbackRenderer: 'simple',
    fallbackRendererOptions: { timestamp: PRESET_TIMESTAMP },
    rendererOptions: { collapseSubtasks: false, collapseErrors: false, showErrorMessage: true, formatOutput: 'truncate' },
  });
}

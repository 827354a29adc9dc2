/** The courses the user teaches, asked once per page: authoring tools are shown to teachers only. */
import { requestAPI } from '@hotstepper/api';

let asked: Promise<ReadonlySet<string>> | null = null;

/** The names of the courses the user teaches; empty when the companion cannot say. */
export function teachingCourses(): Promise<ReadonlySet<string>> {
  asked ??= requestAPI('listGraderCourses')
    .then(r => new Set(r.courses.filter(c => c.role === 'instructor').map(c => c.name)))
    .catch(() => {
      asked = null; // asked again next time: the companion may have been restarting
      return new Set<string>();
    });
  return asked;
}

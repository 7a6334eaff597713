// Bottleneck's light build (no Redis clustering), the one Octokit's throttling
// plugin uses, ships without types of its own: it has the full build's API.
declare module 'bottleneck/light.js' {
  import Bottleneck from 'bottleneck';
  export default Bottleneck;
}

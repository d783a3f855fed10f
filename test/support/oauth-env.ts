import { SLACK_FAKE_CLIENT_ID, SLACK_FAKE_CLIENT_SECRET, type SlackFake } from '../fakes/slack/slack-fake.ts';

/** Engine settings that point Slack, its OAuth consent page and its client at the Slack fake. */
export function slackFakeEnv(slack: SlackFake): Record<string, string> {
  return {
    SLACK_API_URL: `${slack.url}/api`,
    SLACK_OAUTH_AUTHORIZE_URL: `${slack.url}/oauth/v2/authorize`,
    SLACK_CLIENT_ID: SLACK_FAKE_CLIENT_ID,
    SLACK_CLIENT_SECRET: SLACK_FAKE_CLIENT_SECRET,
  };
}

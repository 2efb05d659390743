import { DynamicModule, Module } from '@nestjs/common';
import type { Logger } from 'pino';
import type { RunStore } from '@lvseg/model-store';
import { APP_LOGGER } from '../tokens';
import { RunsController } from './runs.controller';
import { RunsService } from './runs.service';
import { RUN_STORE } from './run-store.token';

/** GET /runs…: the training runs the trainer records, for the live monitor page (/monitor/). */
@Module({})
export class RunsModule {
  static register(store: RunStore, logger: Logger): DynamicModule {
    return {
      module: RunsModule,
      controllers: [RunsController],
      providers: [{ provide: RUN_STORE, useValue: store }, { provide: APP_LOGGER, useValue: logger }, RunsService],
    };
  }
}

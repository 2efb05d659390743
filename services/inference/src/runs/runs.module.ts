import { DynamicModule, Module } from '@nestjs/common';
import type { RunStore } from '@lvseg/model-store';
import { RunsController } from './runs.controller';
import { RunsService } from './runs.service';
import { RUN_STORE } from './run-store.token';

/** GET /runs…: the training runs the trainer records, for the live monitor page (/monitor/). */
@Module({})
export class RunsModule {
  static register(store: RunStore): DynamicModule {
    return {
      module: RunsModule,
      controllers: [RunsController],
      providers: [{ provide: RUN_STORE, useValue: store }, RunsService],
    };
  }
}
